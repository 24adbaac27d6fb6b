"""Modalities are found through one registry, by the ``modality`` every artefact carries, never by module
names; stored artefacts name their type by a stable key."""

import json

import pandas as pd
import pytest

from assets.modalities import STEP_NAMES, modality_for, modality_for_source, modality_named
from pipelines.io_managers import LEGACY_IMPORT_PATHS, TYPE_FILE, artifact_types, stored_type
from quality.data.artifacts import SyntheticImages, SyntheticTable
from quality.data.tables import TabularDataset


@pytest.mark.parametrize("name", ["tabular", "image"])
def test_each_registered_modality_implements_every_step(name):
    modality = modality_named(name)
    missing = [step for step in STEP_NAMES if not hasattr(modality, step)]
    assert not missing
    assert modality.MODALITY == name


def test_artefacts_are_dispatched_by_the_modality_they_carry():
    table = SyntheticTable(label_column="y", model_version="v", seed=0, counts={})
    images = SyntheticImages(images=None, labels=None, class_names=[], model_version="v", seed=0, counts={})
    assert modality_for(table).MODALITY == "tabular"
    assert modality_for(images).MODALITY == "image"  # defined beside the tabular artefacts, still images
    assert modality_for(TabularDataset(frame=pd.DataFrame(), label_column="y", name="n", source="s")).MODALITY == "tabular"


def test_an_object_without_a_modality_is_refused_not_guessed():
    with pytest.raises(TypeError, match="carries no modality"):
        modality_for(None)
    with pytest.raises(KeyError, match="registered: image, tabular"):
        modality_named("audio")


def test_sources_map_to_their_modality():
    assert modality_for_source("breast_cancer").MODALITY == "tabular"
    assert modality_for_source("digits").MODALITY == "image"


def test_every_artefact_type_has_a_unique_key_and_a_modality_where_it_has_data():
    types = artifact_types()
    assert all(kind.artifact_key == key for key, kind in types.items())
    data_types = {key for key in types if key not in ("lift_result", "publication_record")}
    assert all(types[key].modality in ("tabular", "image") for key in data_types)


def test_artefacts_stored_under_their_old_import_paths_still_load(tmp_path):
    types = artifact_types()
    for path, key in LEGACY_IMPORT_PATHS.items():
        module, name = path.rsplit(".", 1)
        (tmp_path / TYPE_FILE).write_text(json.dumps({"module": module, "name": name}))
        assert stored_type(tmp_path) is types[key]


def test_an_artefact_of_an_unknown_type_is_refused_with_the_fix(tmp_path):
    (tmp_path / TYPE_FILE).write_text(json.dumps({"module": "quality.gone", "name": "Thing"}))
    with pytest.raises(ValueError, match="materialize the asset again"):
        stored_type(tmp_path)


def test_a_tables_split_stored_before_evaluation_plans_is_refused_with_the_fix(tmp_path):
    (tmp_path / TYPE_FILE).write_text(json.dumps({"module": "quality.tabular_ingest", "name": "TabularSplit"}))
    with pytest.raises(ValueError, match="materialize the asset again"):
        stored_type(tmp_path)
