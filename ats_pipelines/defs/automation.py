"""Declarative automation: each step of the daily graph runs when its inputs have landed, not at a clock time.

Only the vendor ingests keep a clock (the after-close, crypto, re-fetch and flow schedules, and the weekly
trainings): everything after them follows its data. ``follows_inputs`` is Dagster's ``eager`` condition (the
latest partition, once any input updates, never while an input is missing or still running) with one more
rule: every blocking check of the inputs passed, so a session with missing bars stops the graph there. The
conditions run under the default automation sensor, which this code location starts as RUNNING.
"""

import dagster as dg

# Run retries (dagster.yaml enables them): a vendor run that fails (an outage past the client's own retries, a
# lost worker) is retried from the failed step, after the daemon's delay, up to three times.
VENDOR_RUN_RETRIES = {"dagster/max_retries": "3", "dagster/retry_strategy": "FROM_FAILURE"}
# Tag of a split re-fetch run (split_adjustment_sensor): the partitions it rewrote get their features recomputed.
SPLIT_TAG = "ats/splits"
# Bumped by minute alerts all session long; flow features are read when the bars land, not on each alert.
FLOW_ALERTS = dg.AssetSelection.assets("unusual_whales_options")


def follows_inputs(ignore: dg.AssetSelection | None = None) -> dg.AutomationCondition:
    """Materialize the latest partition once an input updated, with every input present, settled and past its
    blocking checks; inputs in ``ignore`` neither trigger nor block it."""
    condition = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    return (condition.ignore(ignore) if ignore is not None else condition).with_label(
        "follows its inputs (eager, blocking checks passed)")


def after_split_refetch() -> dg.AutomationCondition:
    """Every partition whose bars a split re-fetch just rewrote (the symbol's adjusted history before the split),
    whatever its age: its features are recomputed on the re-adjusted bars."""
    rewritten = dg.AutomationCondition.newly_updated() & dg.AutomationCondition.any_new_update_has_run_tags(
        tag_keys={SPLIT_TAG})
    return (dg.AutomationCondition.any_deps_match(rewritten) & ~dg.AutomationCondition.any_deps_in_progress()
            & ~dg.AutomationCondition.in_progress()).with_label("its bars were re-adjusted by a split re-fetch")


def follows_any_update(ignore: dg.AssetSelection | None = None) -> dg.AutomationCondition:
    """For an unpartitioned asset below partitioned ones (positions after orders): run once any partition of an
    input updated and nothing upstream is still running (a missing old partition does not hold it back)."""
    condition = (dg.AutomationCondition.any_deps_updated().since_last_handled()
                 & ~dg.AutomationCondition.any_deps_in_progress() & ~dg.AutomationCondition.in_progress())
    return (condition.ignore(ignore) if ignore is not None else condition).with_label(
        "follows any update of its inputs")


automation_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor", target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
    description="Evaluates every asset's automation condition (features after bars, signals after features and "
    "the active model, orders after signals, positions and trading metrics after orders).",
)
