from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "cpnav.referrals"
    label = "referrals"
    verbose_name = "Referrals and services directory"
