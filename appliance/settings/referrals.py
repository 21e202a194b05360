"""Settings of the ``[referrals]`` section: where the centre refers its patients, and when an open
referral without news is flagged on the pending list."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReferralSettings:
    # The places a patient may be sent to, as the letter names them (the health district's CSRéf
    # first). A referral to anywhere else is refused: the district counts its own arrivals.
    destinations: list[str] = field(default_factory=lambda: [
        "CSRéf (centre de santé de référence du district)",
        "Hôpital régional",
    ])
    # An open referral with no counter-referral after this many days is flagged « sans nouvelles ».
    overdue_after_days: int = 7

    def validate(self) -> list[str]:
        errors = []
        names = [name.strip() for name in self.destinations]
        if not names or any(not name for name in names):
            errors.append("referrals.destinations : au moins une destination, aucune vide")
        if len(set(names)) != len(names):
            errors.append("referrals.destinations : une destination est en double")
        if not 1 <= self.overdue_after_days <= 365:
            errors.append("referrals.overdue_after_days : entre 1 et 365 jours")
        return errors
