"""One form per programme's visit, with the checks clinic staff expect.

Refused (impossible or dangerous): weight 0 or 300 kg, BP 400/20 or a diastolic above the
systolic, gestational age beyond 45 weeks, SP before 13 weeks, a vaccine dose dated before
birth or recorded twice, a visit in the future... Accepted after confirmation (unusual):
temperature ≥ 40.5 °C, weight-for-age beyond ±3 z, BP ≥ 180/110, Hb < 6 g/dL...

One module per programme; ``base`` holds what they share. Every limit is read from
``clinical/data/visit_checks.toml`` (with its sources) or from the rules' own files.
"""

from __future__ import annotations

from appliance.emr.visit_forms.antenatal import AntenatalForm
from appliance.emr.visit_forms.base import VisitForm
from appliance.emr.visit_forms.chronic import ChronicForm
from appliance.emr.visit_forms.consultation import ConsultationForm
from appliance.emr.visit_forms.death import DeathForm
from appliance.emr.visit_forms.delivery import DeliveryForm
from appliance.emr.visit_forms.family_planning import FamilyPlanningForm
from appliance.emr.visit_forms.growth import GrowthForm
from appliance.emr.visit_forms.immunisation import ImmunisationForm
from appliance.emr.visit_forms.postnatal import PostnatalForm

FORMS: dict[str, type[VisitForm]] = {
    "consultation": ConsultationForm,
    "cpn": AntenatalForm,
    "accouchement": DeliveryForm,
    "cpon": PostnatalForm,
    "vaccination": ImmunisationForm,
    "croissance": GrowthForm,
    "pf": FamilyPlanningForm,
    "chronique": ChronicForm,
    "deces": DeathForm,
}
