"""Virt drivers that nova loads as ``nova.virt.<module>.<Class>``.

nova's ``compute_driver`` option is always resolved under ``nova.virt``, so this folder is appended to
``nova.virt.__path__`` by :mod:`stackproof_lab_plugins.compute_launcher` before nova-compute starts.
"""
