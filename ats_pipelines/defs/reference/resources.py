"""Resources the reference domain uses."""

from ats_pipelines.resources import configured

resources = {"timescale": configured.timescale, "polygon": configured.polygon, "universe": configured.universe}
