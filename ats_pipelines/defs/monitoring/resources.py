"""Resources the monitoring domain uses."""

from ats_pipelines.resources import configured

resources = {"timescale": configured.timescale, "redis": configured.redis, "broker": configured.broker}
