"""Resources the features domain uses."""

from ats_pipelines.resources import configured

resources = {"timescale": configured.timescale, "universe": configured.universe}
