"""Resources the market-data domain uses; the Polygon key comes from the environment (EnvVar)."""

from ats_pipelines.resources import configured

resources = {"timescale": configured.timescale, "polygon": configured.polygon, "universe": configured.universe}
