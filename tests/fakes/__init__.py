"""Local fakes of remote services, speaking their wire protocols."""
