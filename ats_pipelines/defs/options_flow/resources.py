"""Resources the options-flow domain uses; the Unusual Whales key comes from the environment (EnvVar)."""

from ats_pipelines.resources import configured

resources = {"timescale": configured.timescale, "unusual_whales": configured.unusual_whales}
