"""Public alerting: fused estimates -> the regions at risk -> CAP 1.2 warnings (docs/alerting.md).

The small API the exercise wires in:

    policy = load_policy(path)            # or default_policy("JP")
    authority = Authority(policy, epoch, exercise=True)
    messages = authority.update(estimate) # on every estimate; advance(t) as time passes
    store = AlertStore(); store.add(messages)   # CAP XML, validated; serve() / write_feed()
"""

from warnlink.alert.areas import Assessment, EstimateError, RegionRisk, assess
from warnlink.alert.cap import CapError, alert_xml
from warnlink.alert.feed import AlertStore, serve, write_feed
from warnlink.alert.lifecycle import AlertMessage, Authority, run_alerts
from warnlink.alert.policy import AlertPolicy, PolicyError, default_policy, load_policy

__all__ = [
    "AlertMessage",
    "AlertPolicy",
    "AlertStore",
    "Assessment",
    "Authority",
    "CapError",
    "EstimateError",
    "PolicyError",
    "RegionRisk",
    "alert_xml",
    "assess",
    "default_policy",
    "load_policy",
    "run_alerts",
    "serve",
    "write_feed",
]
