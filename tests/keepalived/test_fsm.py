"""The VRRP state machine: one test per row of ``fsm.TRANSITIONS``."""

from dataclasses import replace
from ipaddress import ip_address

import pytest

from pyhaproxy.keepalived import fsm
from pyhaproxy.keepalived.fsm import (
    AddAddresses,
    AdverTimer,
    AdvertReceived,
    Announce,
    Enter,
    FaultOff,
    FaultOn,
    GroupBackup,
    GroupMaster,
    MasterDownTimer,
    RemoveAddresses,
    Router,
    SendAdvert,
    Shutdown,
    StartAdverTimer,
    StartMasterDownTimer,
    Startup,
    State,
    StopTimers,
    master_down_interval,
    skew_time,
    step,
)

ME = ip_address("10.0.0.5")
LOWER_IP = ip_address("10.0.0.4")
HIGHER_IP = ip_address("10.0.0.6")


def router(state=State.INIT, **kw) -> Router:
    return Router(**{"priority": 100, "advert_int": 100, "own_ip": ME, "state": state, **kw})


def kinds(actions):
    return [type(a) for a in actions]


def check(r, event, target, row_guard):
    """Step ``r`` with ``event``: the row taken must have ``row_guard``."""
    row = fsm.match(r, event)
    assert row is not None and row.guard.__name__ == row_guard
    new, actions = step(r, event)
    assert new.state is target
    if target is not r.state:
        assert actions[-1] == Enter(target, type(event).__name__)
    else:
        assert not any(isinstance(a, Enter) for a in actions)
    return new, actions


def test_timers_rfc5798_section_6_1():
    r = router(priority=100, master_adver_int=100)
    assert skew_time(r) == pytest.approx(156 / 256)
    assert master_down_interval(r) == pytest.approx(3 + 156 / 256)
    r = router(priority=254, master_adver_int=200)
    assert master_down_interval(r) == pytest.approx(6 + 2 * 2 / 256)


def test_init_startup_owner_becomes_master():
    r, actions = check(router(priority=255), Startup(), State.MASTER, "is_owner")
    assert actions[:5] == [
        StopTimers(),
        SendAdvert(255),
        AddAddresses(),
        Announce(),
        StartAdverTimer(1.0),
    ]


def test_init_startup_becomes_backup_with_master_down_timer():
    r, actions = check(
        router(advert_int=200, master_adver_int=50), Startup(), State.BACKUP, "always"
    )
    assert r.master_adver_int == 200
    assert actions[:2] == [StopTimers(), StartMasterDownTimer(6 + 156 * 2 / 256)]


def test_init_startup_arms_preempt_delay():
    r, _ = check(router(preempt_delay=5), Startup(now=100.0), State.BACKUP, "always")
    assert r.preempt_until == 105.0


def test_init_fault():
    check(router(), FaultOn(), State.FAULT, "always")


def test_backup_master_down_timer_becomes_master():
    r, actions = check(router(State.BACKUP), MasterDownTimer(), State.MASTER, "always")
    assert SendAdvert(100) in actions and AddAddresses() in actions and Announce() in actions


def test_backup_priority_zero_advert_sets_skew_time():
    r, actions = check(
        router(State.BACKUP), AdvertReceived(0, HIGHER_IP), State.BACKUP, "stop_advert"
    )
    assert actions == [StartMasterDownTimer(skew_time(r))]


def test_backup_lower_master_starts_preempt_delay():
    r = router(State.BACKUP, preempt_delay=10)
    new, actions = check(
        r, AdvertReceived(50, LOWER_IP, now=7.0), State.BACKUP, "lower_master_starts_delay"
    )
    assert new.preempt_until == 17.0
    assert kinds(actions) == [StartMasterDownTimer]
    # Within the delay the lower master is still accepted ...
    _, actions = step(new, AdvertReceived(50, LOWER_IP, now=16.0))
    assert kinds(actions) == [StartMasterDownTimer]
    # ... after it, ignored: the master-down timer runs out and we preempt.
    _, actions = step(new, AdvertReceived(50, LOWER_IP, now=17.5))
    assert actions == []


@pytest.mark.parametrize(
    "preempt, prio, expect_reset",
    [(True, 200, True), (True, 100, True), (False, 50, True), (True, 50, False)],
)
def test_backup_advert_resets_master_down_or_is_ignored(preempt, prio, expect_reset):
    r = router(State.BACKUP, preempt=preempt, version=3)
    new, actions = check(
        r,
        AdvertReceived(prio, HIGHER_IP, interval=200),
        State.BACKUP,
        "master_acceptable" if expect_reset else "always",
    )
    if expect_reset:
        # RFC 5798 §6.4.2: v3 learns the master's advertisement interval.
        assert new.master_adver_int == 200
        assert actions == [StartMasterDownTimer(master_down_interval(new))]
    else:
        assert actions == []


def test_backup_v2_does_not_learn_interval():
    r = router(State.BACKUP, version=2)
    new, _ = step(r, AdvertReceived(200, HIGHER_IP, interval=300))
    assert new.master_adver_int == 100


def test_backup_shutdown():
    _, actions = check(router(State.BACKUP), Shutdown(), State.STOP, "always")
    assert SendAdvert(0) not in actions


def test_backup_fault():
    check(router(State.BACKUP), FaultOn(), State.FAULT, "always")


def test_backup_group_master():
    _, actions = check(router(State.BACKUP), GroupMaster(), State.MASTER, "always")
    assert AddAddresses() in actions


def test_master_adver_timer_sends_advert():
    _, actions = check(router(State.MASTER, priority=150), AdverTimer(), State.MASTER, "always")
    assert actions == [SendAdvert(150), StartAdverTimer(1.0)]


def test_master_priority_zero_advert_answers_at_once():
    _, actions = check(
        router(State.MASTER), AdvertReceived(0, HIGHER_IP), State.MASTER, "stop_advert"
    )
    assert actions == [SendAdvert(100), StartAdverTimer(1.0)]


@pytest.mark.parametrize("prio, src", [(101, LOWER_IP), (100, HIGHER_IP)])
def test_master_yields_to_better_advert(prio, src):
    new, actions = check(
        router(State.MASTER), AdvertReceived(prio, src), State.BACKUP, "other_is_better"
    )
    assert actions[:2] == [StopTimers(), RemoveAddresses()]
    assert isinstance(actions[2], StartMasterDownTimer)


@pytest.mark.parametrize("prio, src", [(99, HIGHER_IP), (100, LOWER_IP)])
def test_master_ignores_worse_advert(prio, src):
    _, actions = check(router(State.MASTER), AdvertReceived(prio, src), State.MASTER, "always")
    assert actions == []


def test_master_shutdown_sends_priority_zero():
    _, actions = check(router(State.MASTER), Shutdown(), State.STOP, "always")
    assert actions[:3] == [StopTimers(), SendAdvert(0), RemoveAddresses()]


def test_master_fault_releases():
    _, actions = check(router(State.MASTER), FaultOn(), State.FAULT, "always")
    assert SendAdvert(0) in actions and RemoveAddresses() in actions


def test_master_group_backup():
    _, actions = check(router(State.MASTER), GroupBackup(), State.BACKUP, "always")
    assert RemoveAddresses() in actions


def test_fault_off_owner_becomes_master():
    check(router(State.FAULT, priority=255), FaultOff(), State.MASTER, "is_owner")


def test_fault_off_becomes_backup():
    _, actions = check(router(State.FAULT), FaultOff(), State.BACKUP, "always")
    assert isinstance(actions[1], StartMasterDownTimer)


def test_fault_shutdown():
    check(router(State.FAULT), Shutdown(), State.STOP, "always")


def test_fault_ignores_adverts():
    r = router(State.FAULT)
    assert step(r, AdvertReceived(200, HIGHER_IP)) == (r, [])


# One event per row; the tests above check each row's effects in detail.
ONE_PER_ROW = [
    (router(priority=255), Startup()),
    (router(), Startup()),
    (router(), FaultOn()),
    (router(State.BACKUP), MasterDownTimer()),
    (router(State.BACKUP), AdvertReceived(0, HIGHER_IP)),
    (router(State.BACKUP, preempt_delay=3), AdvertReceived(50, LOWER_IP)),
    (router(State.BACKUP), AdvertReceived(200, HIGHER_IP)),
    (router(State.BACKUP), AdvertReceived(50, LOWER_IP)),
    (router(State.BACKUP), Shutdown()),
    (router(State.BACKUP), FaultOn()),
    (router(State.BACKUP), GroupMaster()),
    (router(State.MASTER), AdverTimer()),
    (router(State.MASTER), AdvertReceived(0, HIGHER_IP)),
    (router(State.MASTER), AdvertReceived(200, HIGHER_IP)),
    (router(State.MASTER), AdvertReceived(50, HIGHER_IP)),
    (router(State.MASTER), Shutdown()),
    (router(State.MASTER), FaultOn()),
    (router(State.MASTER), GroupBackup()),
    (router(State.FAULT, priority=255), FaultOff()),
    (router(State.FAULT), FaultOff()),
    (router(State.FAULT), Shutdown()),
]


def test_every_transition_row_is_tested():
    taken = [fsm.match(r, e) for r, e in ONE_PER_ROW]
    assert taken == list(fsm.TRANSITIONS)


def test_dot_lists_every_row():
    assert fsm.dot().count("->") == len(fsm.TRANSITIONS)


def test_priority_change_is_data_only():
    r = fsm.with_priority(router(State.MASTER), 80)
    assert r == replace(router(State.MASTER), priority=80)
    _, actions = step(r, AdverTimer())
    assert actions[0] == SendAdvert(80)
