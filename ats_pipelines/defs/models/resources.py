"""Resources the models domain uses."""

from ats_pipelines.resources import configured

resources = {"timescale": configured.timescale, "model_store": configured.model_store}
