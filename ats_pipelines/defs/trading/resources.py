"""Resources the trading domain uses; the broker is chosen by ATS_BROKER (simulated unless told)."""

from ats_pipelines.resources import configured

resources = {"timescale": configured.timescale, "redis": configured.redis, "broker": configured.broker}
