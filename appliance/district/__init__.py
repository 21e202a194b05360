"""The district service: where a district clinician reads the second-opinion requests of his own
clinics and answers them, and where the clinics' messages to the district land (a separate Flask
process on the district's server, with its own SQLite file; never run on a clinic's box).

The clinics talk to it over HTTPS with a bearer token each (``/api/v1``): every message carries
its own id, and a message received twice is stored once, so the box's at-least-once outbox makes
it exactly once. Answers wait in the clinic's inbox until the box fetches them.
"""
