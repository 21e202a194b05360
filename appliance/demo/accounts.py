"""The demo's accounts: one per role, the username being the role code (the README lists them)."""

from __future__ import annotations

from appliance.accounts import create_user, generate_password
from appliance.store.audit import system_actor
from appliance.store.models import User

DEMO_ACCOUNTS: dict[str, tuple[str, str]] = {
    "medecin": ("Modibo", "Keïta"),
    "sage_femme": ("Aminata", "Diallo"),
    "infirmier": ("Seydou", "Coulibaly"),
    "matrone": ("Kadiatou", "Traoré"),
    "agent_saisie": ("Oumar", "Sidibé"),
    "admin": ("Fatoumata", "Konaté"),
}


def demo_usernames() -> list[str]:
    return list(DEMO_ACCOUNTS)


def ensure_demo_users() -> dict[str, str]:
    """Create the demo accounts that are missing; return {username: password} for those created."""
    created = {}
    actor = system_actor("demo-data")
    for role, (first_name, last_name) in DEMO_ACCOUNTS.items():
        if User.select().where(User.username == role).exists():
            continue
        password = generate_password()
        create_user(actor, username=role, first_name=first_name, last_name=last_name, role=role,
                    password=password, must_change_password=False)
        created[role] = password
    return created
