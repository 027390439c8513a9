"""CP Navigator's grant tracking: the dates that matter once CP is requested or granted.

Pure Python for now (the Django app with models comes later):

* ``deadlines.compute`` -> ``Deadline`` s - every date for one grant or case
  (extension window, term end, work permit, the 24-hour HHS notice for a
  possible minor, CCHT information requests, referral follow-ups, the T visa
  referral when the case ends), each with its source and status.
* ``deadlines.reminder_offsets`` / ``due_reminders`` / ``reminder_key`` - which
  reminders a periodic run should send, each at most once.
"""
