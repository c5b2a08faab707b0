"""What people do with Relais, whatever the chat platform: the commands, the share decisions, the queue
form, suggestions, connections, preferences and App Home's data. A platform adapter turns its events
into calls here and renders the neutral messages these return (`bot.messages`)."""
