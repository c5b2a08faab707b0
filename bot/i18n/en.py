"""English messages. Every key here exists in `fr.py` with the same placeholders (a test checks)."""

MESSAGES: dict[str, str] = {
    # Help
    "help_title": "*Relais* helps you share company news on your own LinkedIn and X.",
    "help_employee": (
        "• `/relais me` — your shares, clicks and rank\n"
        "• `/relais suggest <url> [why]` — suggest something to share\n"
        "• `/relais pause [weeks]`, `/relais resume`, `/relais optout` — reminders\n"
        "• `/relais lang fr|en` — your language\n"
        "• `/relais help` — this list"
    ),
    "help_admin": (
        "*Admins*\n"
        "• `/relais queue <url> [caption] [#channel …] [at <when>]` — publish a link now or later "
        "(`/relais queue` alone opens a form)\n"
        "• `/relais list` — upcoming and recent posts\n"
        "• `/relais cancel <id>` — withdraw a post\n"
        "• `/relais stats [id]` — shares, clicks and top sharers\n"
        "• `/relais channel #name` — the default channel"
    ),
    # Refusals
    "not_admin": "Only Relais admins can use `/relais {command}`. Ask a workspace admin if you need it.",
    "unknown_command": "I don't know `{command}`. Here is what you can do:",
    "missing_url": "Give me a link: `/relais {command} https://…`",
    "invalid_url": "That doesn't look like a link I can share ({reason}). Use a full `https://…` address.",
    "unknown_channel": "I can't find the channel {channel}. Mention it with #, and invite me there first if private.",
    "no_channel": "Where should this go? Name a channel (`#news`) or set a default with `/relais channel #name`.",
    "when_past": "“{text}” is in the past. Pick a time to come.",
    "when_too_far": "“{text}” is more than a year away.",
    "when_bad_time": "“{text}” is not a valid time (try 9:00, 17h or 5pm).",
    "when_bad_date": "“{text}” is not a valid date (try 2026-12-01 09:00).",
    "when_bad_timezone": "Your Slack time zone is unknown to me; use a full date in UTC.",
    "when_unrecognised": "I don't understand the time “{text}” (try `tomorrow 9:00`, `mon 9am` or `2026-12-01 09:00`).",
    "missing_post_id": "Which post? `/relais {command} <id>` (see `/relais list`).",
    "unknown_post": "There is no post #{id} here (see `/relais list`).",
    "already_cancelled": "Post #{id} is already cancelled.",
    "no_network": "Choose at least one network (LinkedIn or X).",
    "too_many_captions": "At most {limit} caption variants.",
    "caption_too_long_x": "A caption for X can be at most {limit} characters with the link (this one has {length}).",
    "caption_too_long_linkedin": "A caption for LinkedIn can be at most {limit} characters (this one has {length}).",
    "expiry_before_publish": "The expiry date must come after the publication time.",
    "url_reason_bad_scheme": "only http:// and https:// links",
    "url_reason_invalid_url": "not a complete web address",
    "private_url": "That link leads to a private or local network address; Relais only shares public pages.",
    "no_longer_available": "This post is no longer available.",
    "something_went_wrong": "Something went wrong on my side; nothing was changed. Please try again.",
    # Admin confirmations
    "queued_now": "Post #{id} is published in {channels}.",
    "queued_later": "Post #{id} will be published in {channels} on {when}.",
    "preview_missing": "(I couldn't read the page's title and image; the link alone will be shown.)",
    "list_empty": "No posts yet. Queue one with `/relais queue <url>`.",
    "list_header": "*Posts*",
    "list_line": "`#{id}` {state} · {title} · {shares} shares",
    "state_draft": "draft",
    "state_scheduled": "scheduled {when}",
    "state_published": "published",
    "state_cancelled": "cancelled",
    "state_expired": "expired",
    "cancelled": "Post #{id} is cancelled; its channel messages say so and its buttons no longer work.",
    "channel_set": "New posts will go to {channel} by default.",
    # The channel message
    "post_fallback": "Share this: {title} {url}",
    "suggested_caption": "Suggested caption: {caption}",
    "share_on_linkedin": "Share on LinkedIn",
    "share_on_x": "Share on X",
    "edit_and_share": "Edit & share",
    "not_for_me": "Not for me",
    "post_cancelled_note": ":no_entry_sign: This post was withdrawn.",
    "post_expired_note": ":hourglass: This post has expired.",
    # Sharing through a personal link
    "share_link_intro": "Here is your personal link to share on {network}. Your caption:",
    "share_link_no_caption": "Here is your personal link to share on {network}. Add a personal line: it works better.",
    "open_network": "Open {network}",
    "share_link_fallback": "Share on {network}: {link}",
    "share_recorded": "Thanks! Your share on {network} is counted.",
    "share_already_recorded": "Your share on {network} was already counted.",
    "network_linkedin": "LinkedIn",
    "network_x": "X",
    "not_for_me_noted": "Noted: this one is not for you. It won't come back in your reminders.",
    # Me and stats
    "me_summary": "*Your sharing*\nThis week: {week} · All time: {total} · Clicks your links brought: {clicks}\nPoints: {points}",
    "me_rank": "Rank: {rank} of {participants} participants",
    "me_no_rank": "Share a post to appear in the ranking.",
    "stats_post_title": "*Stats for post #{id}*",
    "stats_period_title": "*Stats for the last {days} days*",
    "stats_line": "Shares: {shares} (LinkedIn {linkedin}, X {x}) · Clicks: {clicks} · Not for me: {not_for_me}",
    "stats_top": "Top sharers: {names}",
    "stats_no_sharers": "Nobody has shared yet.",
    # Suggestions
    "suggest_sent": "Thanks! Your suggestion was sent to the admins; I'll tell you what they decide.",
    "suggest_no_admins": "I don't know any Relais admin to send this to yet. Ask an admin to set RELAIS_ADMINS.",
    "suggestion_review": "{user} suggests sharing {url}",
    "approve": "Approve",
    "reject": "Reject",
    "suggestion_approved_note": ":white_check_mark: Approved by {admin}: post #{id}.",
    "suggestion_rejected_note": ":x: Rejected by {admin}.",
    "suggestion_approved_employee": "Good news: your suggestion {url} was approved and is post #{id}.",
    "suggestion_rejected_employee": "Your suggestion {url} was not selected this time. Thanks for suggesting!",
    "suggestion_already_decided": "This suggestion was already decided.",
    "unknown_suggestion": "There is no suggestion #{id}.",
    # Modals
    "modal_queue_title": "Queue a post",
    "modal_queue_submit": "Queue",
    "modal_cancel": "Cancel",
    "modal_url": "Link to share",
    "modal_caption": "Caption variant {n}",
    "modal_caption_hint": "A personal line works best. X allows 280 characters including the link (23).",
    "modal_networks": "Networks",
    "modal_channels": "Channels",
    "modal_publish_at": "Publish at",
    "modal_publish_at_hint": "Leave empty to publish now.",
    "modal_expires_on": "Expires on",
    "modal_edit_title": "Edit & share",
    "modal_edit_submit": "Get my link",
    "modal_your_caption": "Your caption",
    "modal_network": "Network",
    "publish_at_past": "This time is in the past.",
    # App Home
    "home_title": "Relais",
    "home_networks_title": "*Your networks*",
    "home_network_link_only": "{network}: you share through your personal link.",
    "home_preferences_title": "*Your preferences*",
    "home_nudges_on": "Weekly reminders: on.",
    "home_nudges_off": "Weekly reminders: off.",
    "home_nudges_paused": "Weekly reminders: paused until {date}.",
    "home_turn_nudges_off": "Turn reminders off",
    "home_turn_nudges_on": "Turn reminders on",
    "home_latest_title": "*Latest posts*",
    "home_no_posts": "Nothing to share yet.",
    # Preferences
    "paused_until": "Reminders paused until {date}. `/relais resume` brings them back.",
    "resumed": "Reminders are back on.",
    "opted_out": "You won't get reminders any more. `/relais resume` if you change your mind.",
    "lang_set": "I'll speak English with you.",
    "lang_unknown": "I speak `en` (English) and `fr` (français).",
    "bad_weeks": "Pause for 1 to 52 weeks: `/relais pause 2`.",
}
