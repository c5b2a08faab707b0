"""Messages en français. Chaque clé existe aussi dans `en.py`, avec les mêmes paramètres."""

MESSAGES: dict[str, str] = {
    # Aide
    "help_title": "*Relais* vous aide à partager les nouvelles de l'entreprise sur votre LinkedIn et votre X.",
    "help_employee": (
        "• `/relais me` — vos partages, clics et rang\n"
        "• `/relais suggest <url> [pourquoi]` — suggérer un contenu à partager\n"
        "• `/relais pause [semaines]`, `/relais resume`, `/relais optout` — les rappels\n"
        "• `/relais lang fr|en` — votre langue\n"
        "• `/relais help` — cette liste"
    ),
    "help_admin": (
        "*Admins*\n"
        "• `/relais queue <url> [légende] [#canal …] [at <quand>]` — publier un lien maintenant ou plus tard "
        "(`/relais queue` seul ouvre un formulaire)\n"
        "• `/relais list` — publications à venir et récentes\n"
        "• `/relais cancel <id>` — retirer une publication\n"
        "• `/relais stats [id]` — partages, clics et meilleurs relais\n"
        "• `/relais channel #nom` — le canal par défaut"
    ),
    # Refus
    "not_admin": "Seuls les admins Relais peuvent utiliser `/relais {command}`. Demandez à un admin de l'espace.",
    "unknown_command": "Je ne connais pas `{command}`. Voici ce que vous pouvez faire :",
    "missing_url": "Donnez-moi un lien : `/relais {command} https://…`",
    "invalid_url": "Ce n'est pas un lien que je peux partager ({reason}). Utilisez une adresse `https://…` complète.",
    "unknown_channel": "Je ne trouve pas le canal {channel}. Mentionnez-le avec #, et invitez-moi d'abord s'il est privé.",
    "no_channel": "Où publier ? Nommez un canal (`#news`) ou choisissez un canal par défaut avec `/relais channel #nom`.",
    "when_past": "« {text} » est déjà passé. Choisissez un moment à venir.",
    "when_too_far": "« {text} » est à plus d'un an.",
    "when_bad_time": "« {text} » n'est pas une heure valide (essayez 9:00, 17h ou 5pm).",
    "when_bad_date": "« {text} » n'est pas une date valide (essayez 2026-12-01 09:00).",
    "when_bad_timezone": "Je ne connais pas votre fuseau horaire Slack ; donnez une date complète en UTC.",
    "when_unrecognised": "Je ne comprends pas l'heure « {text} » (essayez `demain 9h`, `lundi 9h` ou `2026-12-01 09:00`).",
    "missing_post_id": "Quelle publication ? `/relais {command} <id>` (voir `/relais list`).",
    "unknown_post": "Il n'y a pas de publication n°{id} ici (voir `/relais list`).",
    "already_cancelled": "La publication n°{id} est déjà annulée.",
    "no_network": "Choisissez au moins un réseau (LinkedIn ou X).",
    "too_many_captions": "Au plus {limit} variantes de légende.",
    "caption_too_long_x": "Une légende pour X fait au plus {limit} caractères avec le lien (celle-ci en a {length}).",
    "caption_too_long_linkedin": "Une légende pour LinkedIn fait au plus {limit} caractères (celle-ci en a {length}).",
    "expiry_before_publish": "La date d'expiration doit suivre l'heure de publication.",
    "url_reason_bad_scheme": "seuls les liens http:// et https:// sont acceptés",
    "url_reason_invalid_url": "ce n'est pas une adresse web complète",
    "private_url": "Ce lien mène à une adresse d'un réseau privé ou local ; Relais ne partage que des pages publiques.",
    "no_longer_available": "Cette publication n'est plus disponible.",
    "something_went_wrong": "Un problème de mon côté ; rien n'a été modifié. Réessayez, s'il vous plaît.",
    # Confirmations admin
    "queued_now": "La publication n°{id} est publiée dans {channels}.",
    "queued_later": "La publication n°{id} sera publiée dans {channels} le {when}.",
    "preview_missing": "(Je n'ai pas pu lire le titre et l'image de la page ; seul le lien sera affiché.)",
    "list_empty": "Aucune publication. Ajoutez-en une avec `/relais queue <url>`.",
    "list_header": "*Publications*",
    "list_line": "`n°{id}` {state} · {title} · {shares} partages",
    "state_draft": "brouillon",
    "state_scheduled": "prévue {when}",
    "state_published": "publiée",
    "state_cancelled": "annulée",
    "state_expired": "expirée",
    "cancelled": "La publication n°{id} est annulée ; ses messages le signalent et ses boutons ne marchent plus.",
    "channel_set": "Les nouvelles publications iront par défaut dans {channel}.",
    # Le message dans le canal
    "post_fallback": "À partager : {title} {url}",
    "suggested_caption": "Légende suggérée : {caption}",
    "share_on_linkedin": "Partager sur LinkedIn",
    "share_on_x": "Partager sur X",
    "edit_and_share": "Modifier et partager",
    "not_for_me": "Pas pour moi",
    "post_cancelled_note": ":no_entry_sign: Cette publication a été retirée.",
    "post_expired_note": ":hourglass: Cette publication a expiré.",
    # Partager par un lien personnel
    "share_link_intro": "Voici votre lien personnel pour partager sur {network}. Votre légende :",
    "share_link_no_caption": "Voici votre lien personnel pour partager sur {network}. Ajoutez un mot personnel : ça marche mieux.",
    "open_network": "Ouvrir {network}",
    "share_link_fallback": "Partager sur {network} : {link}",
    "share_recorded": "Merci ! Votre partage sur {network} est compté.",
    "share_already_recorded": "Votre partage sur {network} était déjà compté.",
    "network_linkedin": "LinkedIn",
    "network_x": "X",
    "not_for_me_noted": "C'est noté : ce contenu n'est pas pour vous. Il ne reviendra pas dans vos rappels.",
    # Moi et statistiques
    "me_summary": "*Vos partages*\nCette semaine : {week} · Au total : {total} · Clics apportés par vos liens : {clicks}\nPoints : {points}",
    "me_rank": "Rang : {rank} sur {participants} participants",
    "me_no_rank": "Partagez une publication pour apparaître dans le classement.",
    "stats_post_title": "*Statistiques de la publication n°{id}*",
    "stats_period_title": "*Statistiques des {days} derniers jours*",
    "stats_line": "Partages : {shares} (LinkedIn {linkedin}, X {x}) · Clics : {clicks} · Pas pour moi : {not_for_me}",
    "stats_top": "Meilleurs relais : {names}",
    "stats_no_sharers": "Personne n'a encore partagé.",
    # Suggestions
    "suggest_sent": "Merci ! Votre suggestion est envoyée aux admins ; je vous dirai ce qu'ils décident.",
    "suggest_no_admins": "Je ne connais encore aucun admin Relais à qui l'envoyer. Demandez à un admin de définir RELAIS_ADMINS.",
    "suggestion_review": "{user} suggère de partager {url}",
    "approve": "Approuver",
    "reject": "Refuser",
    "suggestion_approved_note": ":white_check_mark: Approuvée par {admin} : publication n°{id}.",
    "suggestion_rejected_note": ":x: Refusée par {admin}.",
    "suggestion_approved_employee": "Bonne nouvelle : votre suggestion {url} est approuvée, c'est la publication n°{id}.",
    "suggestion_rejected_employee": "Votre suggestion {url} n'a pas été retenue cette fois. Merci de l'avoir proposée !",
    "suggestion_already_decided": "Cette suggestion a déjà été traitée.",
    "unknown_suggestion": "Il n'y a pas de suggestion n°{id}.",
    # Fenêtres
    "modal_queue_title": "Publier un lien",
    "modal_queue_submit": "Publier",
    "modal_cancel": "Annuler",
    "modal_url": "Lien à partager",
    "modal_caption": "Variante de légende {n}",
    "modal_caption_hint": "Un mot personnel marche mieux. X permet 280 caractères, lien compris (23).",
    "modal_networks": "Réseaux",
    "modal_channels": "Canaux",
    "modal_publish_at": "Publier le",
    "modal_publish_at_hint": "Laissez vide pour publier tout de suite.",
    "modal_expires_on": "Expire le",
    "modal_edit_title": "Modifier et partager",
    "modal_edit_submit": "Obtenir mon lien",
    "modal_your_caption": "Votre légende",
    "modal_network": "Réseau",
    "publish_at_past": "Ce moment est déjà passé.",
    # Accueil de l'app
    "home_title": "Relais",
    "home_networks_title": "*Vos réseaux*",
    "home_network_link_only": "{network} : vous partagez avec votre lien personnel.",
    "home_preferences_title": "*Vos préférences*",
    "home_nudges_on": "Rappels hebdomadaires : activés.",
    "home_nudges_off": "Rappels hebdomadaires : désactivés.",
    "home_nudges_paused": "Rappels hebdomadaires : en pause jusqu'au {date}.",
    "home_turn_nudges_off": "Désactiver les rappels",
    "home_turn_nudges_on": "Activer les rappels",
    "home_latest_title": "*Dernières publications*",
    "home_no_posts": "Rien à partager pour l'instant.",
    # Préférences
    "paused_until": "Rappels en pause jusqu'au {date}. `/relais resume` pour les réactiver.",
    "resumed": "Les rappels sont réactivés.",
    "opted_out": "Vous ne recevrez plus de rappels. `/relais resume` si vous changez d'avis.",
    "lang_set": "Je vous parlerai en français.",
    "lang_unknown": "Je parle `en` (English) et `fr` (français).",
    "bad_weeks": "Mettez en pause de 1 à 52 semaines : `/relais pause 2`.",
}
