"""The stackproof lab: a small real OpenStack on loopback, run as ``python -m stackproof_lab <command>``.

Never imported by ``stackproof`` or the suites (they know the lab only through the clouds.yaml and
stackproof.yaml it writes), and never imports them. Standard library and PyYAML only: the OpenStack
services live in the lab's own virtualenv under the state directory.
"""
