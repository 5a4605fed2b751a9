import dataclasses

import pytest

from mclnn.config import SourceSettings
from mclnn.errors import DatasetError
from mclnn.preprocess.discovery import discover_clips, source_fingerprint

from conftest import write_tone

FOLDERS = SourceSettings(layout="folders", fold_pattern=r"^(\d+)-")


@pytest.fixture
def folder_source(tmp_path):
    root = tmp_path / "audio"
    for relative in ["002 - Rain/2-b.wav", "002 - Rain/1-a.flac", "001 - Dog/5-z.wav", "001 - Dog/3-y.ogg",
                     "001 - Dog/10-x.wav"]:
        write_tone(root / relative, seconds=0.1)
    (root / "001 - Dog" / "notes.txt").write_text("not audio")
    (root / "README.md").write_text("top-level files are ignored")
    return root


def test_folders_sorted_by_category_then_file_name(folder_source):
    clips = discover_clips(FOLDERS, root=folder_source)
    assert [clip.relative_path for clip in clips] == [
        "001 - Dog/10-x.wav", "001 - Dog/3-y.ogg", "001 - Dog/5-z.wav", "002 - Rain/1-a.flac", "002 - Rain/2-b.wav"]
    assert [clip.fold for clip in clips] == [10, 3, 5, 1, 2]
    assert {clip.category for clip in clips} == {"001 - Dog", "002 - Rain"}
    assert len({clip.group_key for clip in clips}) == 5


def test_without_fold_pattern_folds_are_minus_one(folder_source):
    clips = discover_clips(SourceSettings(), root=folder_source)
    assert {clip.fold for clip in clips} == {-1}


def test_csv_layout(tmp_path):
    root = tmp_path / "esc"
    for name in ["1-100-A-0.wav", "2-200-A-1.wav", "1-100-B-0.wav", "3-300-A-1.wav"]:
        write_tone(root / "audio" / name, seconds=0.1)
    (root / "meta").mkdir()
    (root / "meta" / "meta.csv").write_text(
        "filename,fold,target,category,src_file\n"
        "2-200-A-1.wav,2,1,rooster,200\n1-100-B-0.wav,1,0,dog,100\n"
        "3-300-A-1.wav,3,1,rooster,300\n1-100-A-0.wav,1,0,dog,100\n")
    source = SourceSettings(layout="csv", csv="meta/meta.csv", path_template="audio/{filename}",
                            fold_column="fold", group_column="src_file")
    clips = discover_clips(source, root=root)
    assert [clip.relative_path for clip in clips] == [
        "audio/1-100-A-0.wav", "audio/1-100-B-0.wav", "audio/2-200-A-1.wav", "audio/3-300-A-1.wav"]
    assert [clip.category for clip in clips] == ["dog", "dog", "rooster", "rooster"]
    assert [clip.fold for clip in clips] == [1, 1, 2, 3]
    assert clips[0].group_key == clips[1].group_key != clips[2].group_key


def test_csv_errors_name_the_problem(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "meta.csv").write_text("filename,label\nmissing.wav,dog\n")
    source = SourceSettings(layout="csv", csv="meta.csv")
    with pytest.raises(DatasetError, match=r"meta.csv: missing column\(s\) category; it has filename, label"):
        discover_clips(source, root=root)
    source = dataclasses.replace(source, category_column="label")
    with pytest.raises(DatasetError, match=r"missing.wav: listed on line 2 of .*meta.csv but not found"):
        discover_clips(source, root=root)
    with pytest.raises(DatasetError, match="metadata CSV not found"):
        discover_clips(dataclasses.replace(source, csv="other.csv"), root=root)


def test_folder_errors_name_the_problem(tmp_path, folder_source):
    with pytest.raises(DatasetError, match="does not exist; pass --source DIR"):
        discover_clips(FOLDERS, root=tmp_path / "nowhere")
    (folder_source / "003 - Empty").mkdir()
    with pytest.raises(DatasetError, match="003 - Empty: category folder holds no audio files"):
        discover_clips(FOLDERS, root=folder_source)
    (folder_source / "003 - Empty").rmdir()
    write_tone(folder_source / "002 - Rain" / "nofold.wav", seconds=0.1)
    with pytest.raises(DatasetError, match="002 - Rain/nofold.wav: file name does not match source.fold_pattern"):
        discover_clips(FOLDERS, root=folder_source)


def test_fingerprint_changes_when_a_file_changes(folder_source):
    clips = discover_clips(FOLDERS, root=folder_source)
    before = source_fingerprint(clips)
    assert source_fingerprint(clips) == before
    write_tone(folder_source / "001 - Dog" / "3-y.ogg", seconds=0.2)
    assert source_fingerprint(clips) != before


@pytest.mark.parametrize("listed", ["../outside/secret.wav", "{absolute}", "link/secret.wav"])
def test_csv_rows_outside_the_source_folder_are_refused(tmp_path, listed):
    outside = tmp_path / "outside"
    write_tone(outside / "secret.wav")
    root = tmp_path / "data"
    write_tone(root / "inside.wav")
    (root / "link").symlink_to(outside)
    listed = listed.format(absolute=outside / "secret.wav")
    (root / "meta.csv").write_text(f"filename,category\ninside.wav,dog\n{listed},dog\n")
    source = SourceSettings(layout="csv", csv="meta.csv")
    with pytest.raises(DatasetError, match=rf"^line 3 of {root / 'meta.csv'} names '{listed}', which is outside "
                                           rf"{root}; list only clips inside that folder$"):
        discover_clips(source, root=root)
    refused = []
    assert [clip.relative_path for clip in discover_clips(source, root=root, refused=refused)] == ["inside.wav"]
    assert refused == [(listed, f"line 3 of {root / 'meta.csv'} names '{listed}', which is outside {root}; not read")]
