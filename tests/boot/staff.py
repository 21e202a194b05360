"""Clinic staff over HTTP, as their phones reach the booted card: log in, change the first password,
register patients and record visits, keeping a ledger of every write the server acknowledged.

Plain ``http.client`` with a cookie and the form's CSRF token, one connection per request (a power cut
breaks connections; the next request simply opens a new one).
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')  # WTForms' field or a template's input
NEW_PASSWORD = "Baobab-nuage-4217"


class StaffError(RuntimeError):
    """The EMR answered something a member of staff would not expect."""


@dataclass
class Staff:
    port: int
    cookies: dict[str, str] = field(default_factory=dict)  # the session's and the known device's
    timeout: float = 60

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, Location header, body). Network errors propagate: the caller decides what a cut means."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())} \
            if self.cookies else {}
        body = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(form)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for cookie in response.msg.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name] = value
        return response.status, response.getheader("Location") or "", text

    def token(self, path: str) -> str:
        status, _, page = self.request("GET", path)
        match = CSRF.search(page)
        if status != 200 or not match:
            raise StaffError(f"GET {path} : {status}, pas de formulaire\n{page[-1500:]}")
        return match.group(1)

    def submit(self, path: str, form: dict[str, str], *, expect: int = 302) -> tuple[str, str]:
        status, location, page = self.request("POST", path, {"csrf_token": self.token(path), **form})
        if status != expect:
            said = re.findall(r'<p class="(?:error|flash[^"]*|warning)"[^>]*>(.*?)</p>', page, re.S)
            raise StaffError(f"POST {path} : {status} au lieu de {expect} : {said}\n{page[-2000:]}")
        return location, page

    def login(self, username: str, password: str) -> str:
        location, _ = self.submit("/connexion", {"username": username, "password": password})
        return location

    def first_login(self, username: str, provisional: str, new: str = NEW_PASSWORD) -> None:
        """Log in with the provisional password and choose one's own, as the EMR demands at once."""
        self.login(username, provisional)
        self.submit("/compte/mot-de-passe", {"current": provisional, "new": new, "confirm": new})

    def create_user(self, username: str, role: str) -> str:
        """An administrator creates a colleague; returns the provisional password shown once."""
        _, page = self.submit("/admin/utilisateurs/nouveau", {
            "username": username, "first_name": "Fatoumata", "last_name": "Keïta", "role": role,
            "phone": "", "language": "fr", "active": "y"}, expect=200)
        match = re.search(r'Mot de passe provisoire\s*:?\s*</?[^>]*>?\s*<strong class="mono">([^<]+)</strong>', page)
        match = match or re.search(r'<strong class="mono">([^<]+)</strong>\s*</p>\s*<p class="hint">', page)
        if not match:
            raise StaffError(f"mot de passe provisoire introuvable\n{page[-1500:]}")
        return match.group(1).strip()

    def register_patient(self, family_name: str, first_names: str, birth_date: str = "1994-05-02") -> int:
        location, _ = self.submit("/patients/nouveau", {
            "family_name": family_name, "first_names": first_names, "sex": "F", "birth_date": birth_date,
            "village": "Pelengana", "phone": "", "household_name": f"Famille {family_name}"})
        return int(location.rstrip("/").rsplit("/", 1)[-1])

    def record_visit(self, patient_id: int, reason: str) -> None:
        """A consultation whose reason carries ``reason``; returns once the server acknowledged it."""
        day = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        location, _ = self.submit(f"/patients/{patient_id}/consultation/nouveau", {
            "visit_date": day, "reason": reason, "temperature_c": "38,6", "pulse_bpm": "96",
            "systolic": "120", "diastolic": "75", "weight_kg": "61,5", "diagnosis_code": "B50.9",
            "treatment": "CTA 3 jours", "prescriptions-0-medicine": "paracetamol_500_cp",
            "prescriptions-0-dose": "2", "prescriptions-0-times_per_day": "3", "prescriptions-0-duration_days": "3"})
        if not location.endswith(f"/patients/{patient_id}"):
            raise StaffError(f"visite enregistrée mais renvoi inattendu : {location}")


@dataclass
class Ledger:
    """Every visit the server acknowledged (302 received), and those whose answer never came."""

    acknowledged: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
