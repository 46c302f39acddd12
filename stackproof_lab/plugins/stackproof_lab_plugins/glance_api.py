"""glance-api's WSGI application, with the keystoneauth session options its trust code reads registered.

On an image upload glance creates a trust so that a long upload can outlive the user's token
(``glance.common.trust_auth.TokenRefresher``). It builds the keystone client's session with
``keystoneauth1.loading.load_session_from_conf_options(CONF, "keystone_authtoken")``, which reads every
session option from that group: ``cafile``, ``certfile``, ``keyfile``, ``insecure``, ``timeout``,
``collect_timing``, ``split_loggers``, ``tls_ciphers``, ``tls_min_version``. keystonemiddleware registers
only its own four there and glance adds ``timeout``, so every upload logs "Unable to create trust: no such
option collect_timing in group [keystone_authtoken]" and carries on with the user's token. No config file
can register an option, so the lab registers the missing ones (keystoneauth's own definitions) once
glance's application, keystonemiddleware's filter included, is loaded; options already registered keep
their owner's definition.

Served by uWSGI as ``stackproof_lab_plugins.glance_api:application`` (stackproof_lab/services.py).
"""

from glance.wsgi.api import application
from keystoneauth1 import loading
from oslo_config import cfg

AUTHTOKEN_GROUP = "keystone_authtoken"


def register_session_options(conf: cfg.ConfigOpts) -> list[str]:
    """Register in [keystone_authtoken] the session options nobody registered there; returns their names."""
    added = []
    for opt in loading.get_session_conf_options():
        try:
            if conf.register_opt(opt, group=AUTHTOKEN_GROUP):
                added.append(opt.dest)
        except cfg.DuplicateOptError:
            pass  # keystonemiddleware's or glance's own, under another definition: theirs stays
    return added


register_session_options(cfg.CONF)

__all__ = ["application", "register_session_options"]
