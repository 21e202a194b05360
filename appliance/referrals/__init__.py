"""Referrals as records: the patient sent to the district (CSRéf, hospital) and the
counter-referral that closes it (what was found and done there, the date back)."""
