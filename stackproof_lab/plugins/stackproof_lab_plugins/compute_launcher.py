"""Start nova-compute with the lab's virt drivers importable as ``nova.virt.<name>``.

nova resolves ``[DEFAULT] compute_driver`` with ``importutils.import_object('nova.virt.' + name)``,
so a driver outside nova's tree cannot be named directly. Extending the ``nova.virt`` package path
before nova-compute's main() runs makes ``compute_driver = lab_kvm.LabKVMDriver`` resolve to
``stackproof_lab_plugins/nova_virt/lab_kvm.py`` without touching nova's installed files.
"""

import os


def main() -> None:
    # nova.cmd.compute monkey-patches on import; it must be the first nova module imported.
    import nova.virt
    from nova.cmd import compute

    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nova_virt")
    if here not in nova.virt.__path__:
        nova.virt.__path__.append(here)
    compute.main()


if __name__ == "__main__":
    main()
