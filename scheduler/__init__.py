"""The clock: scheduled publishing, nudges and leaderboards run from here, in one process."""
