"""Block Storage: Cinder serves volumes to KVM and VMware servers over a dedicated data network (BLK-1..10)."""
