"""Resources the trading domain uses; the broker's credentials come from the environment (EnvVar)."""

from ats_pipelines.resources import configured

resources = {"timescale": configured.timescale, "redis": configured.redis, "broker": configured.alpaca}
