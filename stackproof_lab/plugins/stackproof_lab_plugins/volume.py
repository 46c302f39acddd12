"""A Cinder volume driver for the storage host's NFS export: volumes are sparse raw files in the exported
directory, as cinder's NFS driver keeps them on its share.

The storage host runs the NFS server itself (nfs-ganesha, on the storage network), so the driver works on
the directory locally and hands out NFS connection info (the export and the file name); a KVM compute
reaches the file over NFS through its data NIC (the lab's connector in nova_virt/lab_kvm.py). Cinder's own
NFS driver would mount the share with the kernel's NFS client, which this kernel lacks. Image-to-volume
(boot from volume) converts the image to raw with qemu-img, like the NFS driver.
"""

import contextlib
import os
import subprocess

from cinder import interface
from cinder.common import constants
from cinder.image import image_utils
from cinder.volume import driver, volume_utils
from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

lab_volume_opts = [
    cfg.StrOpt(
        "lab_volumes_dir",
        default="$state_path/lab-volumes",
        help="Directory that holds one sparse raw file per volume.",
    ),
    cfg.StrOpt(
        "lab_export",
        default="127.0.0.1:/srv/lab-volumes",
        help="NFS export of lab_volumes_dir reported in connection info (what a KVM host mounts).",
    ),
    cfg.IntOpt("lab_capacity_gb", default=1000, help="Capacity reported to the scheduler."),
]

CONF = cfg.CONF
CONF.register_opts(lab_volume_opts, group="backend_defaults")


@interface.volumedriver
class LabNfsVolumeDriver(driver.VolumeDriver):
    """Volumes as files of the NFS export; connection info of that NFS share."""

    VERSION = "1.0.0"
    # Not a vendor driver: keeps cinder's "unsupported driver" check quiet about a missing CI.
    CI_WIKI_NAME = "stackproof-lab"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(lab_volume_opts)

    @property
    def _dir(self) -> str:
        return self.configuration.lab_volumes_dir

    def do_setup(self, context):
        os.makedirs(self._dir, exist_ok=True)

    def check_for_setup_error(self):
        if not os.access(self._dir, os.W_OK):
            raise RuntimeError(f"lab volume directory {self._dir} is not writable")

    def local_path(self, volume):
        return os.path.join(self._dir, volume["name"])

    @staticmethod
    def _sparse_copy(src: str, dst: str) -> None:
        # Volumes are mostly holes; a plain copy would write every zero of a 1 GB volume.
        subprocess.run(["cp", "--sparse=always", src, dst], check=True)

    def _allocate(self, path: str, size_gb: int) -> None:
        with open(path, "ab") as f:
            f.truncate(size_gb * 1024**3)

    # --- volumes and snapshots ---------------------------------------------------------------
    def create_volume(self, volume):
        self._allocate(self.local_path(volume), volume["size"])
        return {"provider_location": self.configuration.lab_export}

    def delete_volume(self, volume):
        try:
            os.unlink(self.local_path(volume))
        except FileNotFoundError:
            LOG.info("lab volume %s already gone", volume["name"])

    def extend_volume(self, volume, new_size):
        self._allocate(self.local_path(volume), new_size)

    def _snapshot_path(self, snapshot) -> str:
        return os.path.join(self._dir, snapshot["name"])

    def create_snapshot(self, snapshot):
        self._sparse_copy(self.local_path(snapshot.volume), self._snapshot_path(snapshot))

    def delete_snapshot(self, snapshot):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._snapshot_path(snapshot))

    def create_volume_from_snapshot(self, volume, snapshot):
        self._sparse_copy(self._snapshot_path(snapshot), self.local_path(volume))
        self._allocate(self.local_path(volume), volume["size"])
        return {"provider_location": self.configuration.lab_export}

    def create_cloned_volume(self, volume, src_vref):
        self._sparse_copy(self.local_path(src_vref), self.local_path(volume))
        self._allocate(self.local_path(volume), volume["size"])
        return {"provider_location": self.configuration.lab_export}

    # --- images --------------------------------------------------------------------------------
    def copy_image_to_volume(self, context, volume, image_service, image_id, disable_sparse=False):
        # As Cinder's NFS driver does, minus root: the lab runs every service as the same user.
        image_utils.fetch_to_raw(
            context,
            image_service,
            image_id,
            self.local_path(volume),
            self.configuration.volume_dd_blocksize,
            size=volume["size"],
            run_as_root=False,
            disable_sparse=disable_sparse,
        )
        image_utils.resize_image(self.local_path(volume), volume["size"], run_as_root=False)

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        volume_utils.upload_volume(
            context, image_service, image_meta, self.local_path(volume), volume, run_as_root=False
        )

    # --- exports and connections -----------------------------------------------------------------
    def ensure_export(self, context, volume):
        pass  # the NFS server exports the whole directory

    def create_export(self, context, volume, connector):
        pass

    def remove_export(self, context, volume):
        pass

    def initialize_connection(self, volume, connector):
        return {
            "driver_volume_type": constants.NFS_VARIANT,
            "data": {
                "export": self.configuration.lab_export,
                "name": volume["name"],
                "format": "raw",
                "options": None,
                "access_mode": "rw",
            },
        }

    def terminate_connection(self, volume, connector, **kwargs):
        pass

    # --- scheduler stats -------------------------------------------------------------------------
    def _update_volume_stats(self):
        capacity = self.configuration.lab_capacity_gb
        used = 0
        for name in os.listdir(self._dir):
            used += os.stat(os.path.join(self._dir, name)).st_size // 1024**3
        self._stats = {
            "volume_backend_name": self.configuration.safe_get("volume_backend_name") or "lab",
            "vendor_name": "stackproof lab",
            "driver_version": self.VERSION,
            "storage_protocol": constants.NFS,
            "total_capacity_gb": capacity,
            "free_capacity_gb": max(capacity - used, 0),
            "provisioned_capacity_gb": used,
            "reserved_percentage": 0,
            "max_over_subscription_ratio": 1.0,
            "thin_provisioning_support": True,
            "thick_provisioning_support": False,
            "QoS_support": False,
            "multiattach": False,
        }
