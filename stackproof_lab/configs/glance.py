"""glance-api.conf of the controller."""

from __future__ import annotations

from stackproof_lab.configs.ini import Sections
from stackproof_lab.configs.openstack import authtoken, db_url, lock
from stackproof_lab.layout import Layout


def glance(layout: Layout, password: dict[str, str]) -> Sections:
    data = layout.data / "glance"
    return {
        "DEFAULT": {
            "enabled_backends": "fs:file",
            # Needed under uwsgi so image import can find this API worker.
            "worker_self_reference_url": layout.url("glance-api"),
            "show_image_direct_url": False,
        },
        "database": {"connection": db_url(layout, password, "glance")},
        "glance_store": {"default_backend": "fs"},
        # glance 33 inspects uploads and refuses a flat VMDK extent (it reads as raw) unless this is off. The
        # lab holds flat (preallocated) VMDK images, as a cloud importing VMFS exports must; the sparse-header
        # subformats pass either way (SP-VMDK-001/003 check the two agree).
        "image_format": {"require_image_format_match": False},
        "fs": {"filesystem_store_datadir": str(data / "images")},
        "os_glance_staging_store": {"filesystem_store_datadir": str(data / "staging")},
        "os_glance_tasks_store": {"filesystem_store_datadir": str(data / "tasks")},
        "keystone_authtoken": authtoken(layout, password, "glance"),
        "paste_deploy": {"flavor": "keystone",
                         "config_file": str(layout.venv / "etc" / "glance" / "glance-api-paste.ini")},
        "oslo_concurrency": lock(str(data / "lock")),
    }

