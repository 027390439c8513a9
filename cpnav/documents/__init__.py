"""Package assembly: a CP request package as a tagged PDF and an editable DOCX.

``package`` holds the data model and the checks, ``outline`` the words, and
``render`` the two output formats. No models: artifacts are stored by the caller.
"""
