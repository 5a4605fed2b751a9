"""The ``mclnn`` command line: each command parses its options and calls one library function.

Library errors (:class:`mclnn.MCLNNError`) are turned into a one-line message and exit
status 1 here, and only here.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import time
from pathlib import Path

import click

from mclnn.config import available_datasets, load_config
from mclnn.atomic import atomic_write_text
from mclnn.cluster import SCHEDULER_VARIABLE, connect
from mclnn.errors import MCLNNError
from mclnn.folds.fold_files import check_trial, read_folds_manifest
from mclnn.quiet_import import import_tensorflow
from mclnn.train.fit.epoch_lines import epoch_line, epoch_values
from mclnn.train.trial_files import EVALUATED_FOLDS
from mclnn.variants import MODEL_KINDS

__all__ = ["cli", "main"]

DEFAULT_OUT_ROOT = Path("mclnn-data")

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False),
    help="Extra datasets YAML file; its entries add to or replace the packaged datasets.yaml.",
)
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
    help="Override one datasets.yaml setting, e.g. --set features.n_mels=40 (repeatable).",
)
out_option = click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Output folder shared by all stages [default: ./mclnn-data/<dataset>/].",
)
jobs_option = click.option(
    "--jobs", type=click.IntRange(min=1), default=None, help="Parallel workers [default: all cores].",
)
scheduler_option = click.option(
    "--scheduler", envvar=SCHEDULER_VARIABLE, metavar="ADDRESS|FILE",
    help=f"Run the tasks on the workers of this Dask scheduler (address or scheduler file; also {SCHEDULER_VARIABLE}).",
)


# What the system can refuse a writer, and what the user can do about it.
_OS_REMEDIES = {errno.ENOSPC: "free some space or give another --out", errno.EDQUOT: "free some space or give another --out",
                errno.EROFS: "give a writable --out", errno.EACCES: "give a folder you may write to (--out)",
                errno.EPERM: "give a folder you may write to (--out)"}


# The optional parts a command can find missing, and the extra that installs each.
_EXTRAS = {"tensorflow": "pip install 'mclnn[cpu]' (or 'mclnn[gpu]'; or 'mclnn[jax]' and KERAS_BACKEND=jax)",
           "jax": "pip install 'mclnn[jax]' (or unset KERAS_BACKEND to use TensorFlow)",
           "muda": "pip install 'mclnn[augment]'", "jams": "pip install 'mclnn[augment]'",
           "distributed": "pip install 'mclnn[cluster]'"}


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MCLNNError as error:
            raise click.ClickException(str(error)) from None
        except ModuleNotFoundError as error:
            root = (error.name or "").partition(".")[0]
            if root not in _EXTRAS:
                raise
            raise click.ClickException(f"{root} is not installed, and this command needs it: {_EXTRAS[root]}") from None
        except OSError as error:
            if error.errno not in _OS_REMEDIES:
                raise
            # Outputs are renamed into place only once whole: the previous ones are intact.
            where = error.filename or "an output file"
            raise click.ClickException(f"{where}: {error.strerror or os.strerror(error.errno)}; "
                                       f"{_OS_REMEDIES[error.errno]} (earlier outputs are intact)") from None


PLAIN_LINE_SECONDS = 30  # without a terminal, counts are printed at most this often


class _ProgressBar:
    """A progress callback ``(done, total)``: a click bar with counts and ETA on a terminal.

    Without one (cron, a pipe, a log file) a bar shows only its label, so plain lines
    with the counts are printed instead, at most every 30 s and at the end.
    """

    def __init__(self, label):
        self._label = label
        self._bar = None
        self._started = self._printed = None

    def __call__(self, done, total):
        if not sys.stderr.isatty():
            now = time.monotonic()
            self._started = self._started or now
            if done == total or self._printed is None or now - self._printed >= PLAIN_LINE_SECONDS:
                click.echo(f"{self._label}: {done}/{total} ({now - self._started:.0f} s)", err=True)
                self._printed = now
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self._label, show_pos=True, show_eta=True,
                                          file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._bar.pos)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self._bar is not None:
            self._bar.__exit__(*exc_info)


class _Messages(logging.Formatter):
    """mclnn's info lines as they are (they say what a stage does and why); others with their level."""

    def format(self, record):
        message = super().format(record)
        return message if record.levelno == logging.INFO else f"{record.levelname}: {message}"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
@click.version_option(package_name="mclnn")
def cli(verbose):
    """Masked Conditional Neural Networks for sound classification, from audio to report."""
    handler = logging.StreamHandler()
    handler.setFormatter(_Messages())
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])
    logging.getLogger("mclnn").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)


@cli.command()
@config_option
def datasets(config_path):
    """List the datasets datasets.yaml (and --config) define."""
    for name in available_datasets(config_path=config_path):
        config = load_config(name, config_path=config_path)
        click.echo(f"{name:18} {config.description}")


@cli.command()
@click.argument("dataset")
@config_option
@set_option
@click.option("--source", type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding the dataset's audio [default: source.path in datasets.yaml].")
@out_option
@jobs_option
@click.option("--force", is_flag=True, help="Rebuild even if the output is up to date.")
@click.option("--skip-bad", is_flag=True,
              help="Record unreadable, silent or too-short clips in the output and go on, instead of failing.")
@scheduler_option
def transform(dataset, config_path, overrides, source, out_dir, jobs, force, skip_bad, scheduler):
    """Extract features of DATASET's audio (and augmentations) into one ordered Dataset.hdf5."""
    from mclnn.preprocess import resolve_source, transform_dataset
    from mclnn.preprocess.audio import FEW_OWN_SAMPLES

    config = load_config(dataset, config_path=config_path, overrides=overrides)
    out_dir = out_dir or DEFAULT_OUT_ROOT / dataset
    with connect(scheduler) as client, _ProgressBar(f"{dataset}: clips") as progress:
        result = transform_dataset(
            config, source_dir=resolve_source(config, source), out_dir=out_dir, jobs=jobs,
            force=force, skip_bad=skip_bad, progress=progress, client=client,
        )
    stretched = (f"; {len(result.stretched)} clip(s) padded or repeated from under {FEW_OWN_SAMPLES:.0%} of "
                 "their kept length" if result.stretched else "")
    if result.up_to_date:
        click.echo(f"{dataset}: {result.path} is up to date ({result.n_clips} clips{stretched})")
        return
    click.echo(
        f"{dataset}: wrote {result.path}: {result.n_clips} clips from {result.n_originals} originals"
        f"{f', {len(result.skipped)} bad clips skipped' if result.skipped else ''} in {result.seconds:.1f} s"
        f"{stretched}"
    )


@cli.command()
@click.argument("dataset")
@config_option
@set_option
@out_option
@click.option("--k", type=click.IntRange(min=3), default=None, help="Folds and trials [default: folds.k in datasets.yaml].")
@click.option("--seed", type=int, default=None,
              help="Shuffle seed for datasets without official folds [default: folds.seed; none keeps storage order].")
@click.option("--ignore-official-folds", is_flag=True, help="Assign stratified folds even where the dataset has its own.")
@click.option("--dataset-file", type=click.Path(dir_okay=False, path_type=Path),
              help="The Dataset.hdf5 to split [default: <out>/Dataset.hdf5]; may be in the original MCLNN layout.")
@click.option("--storage-ordering", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Original layout only: its <dataset>_storage_ordering.txt (gives labels and official folds).")
@click.option("--class-counts", metavar="N,N,...", help="Original layout only: clips per class, in storage order.")
@click.option("--force", is_flag=True, help="Rewrite even if the folds are up to date.")
def folds(dataset, config_path, overrides, out_dir, k, seed, ignore_official_folds, dataset_file, storage_ordering,
          class_counts, force):
    """Write DATASET's cross-validation index triples and training standardization statistics.

    Trial 1 tests fold 1 and validates on fold 2; each next trial moves both back one
    fold. Official folds are used where the dataset has them; augmented variants only
    ever go to training. The statistics are part of this command: per trial, the mean
    and standard deviation of every feature over the training frames.
    """
    from mclnn.folds import format_fold_tables, make_folds
    from mclnn.preprocess import dataset_path

    config = load_config(dataset, config_path=config_path, overrides=overrides)
    out_dir = out_dir or DEFAULT_OUT_ROOT / dataset
    reference_layout = {}
    if storage_ordering is not None:
        reference_layout["storage_ordering"] = str(storage_ordering.resolve())
    if class_counts:
        try:
            reference_layout["class_counts"] = [int(count) for count in class_counts.split(",")]
        except ValueError:
            raise click.BadParameter(f"expected comma-separated integers, got {class_counts!r}",
                                     param_hint="--class-counts") from None
    if reference_layout and config.source.fold_pattern:
        reference_layout["fold_pattern"] = config.source.fold_pattern
    with _ProgressBar(f"{dataset}: statistics") as progress:
        result = make_folds(
            config, dataset_file=dataset_file or dataset_path(out_dir), out_dir=out_dir,
            k=k if k is not None else config.folds.k, seed=seed if seed is not None else config.folds.seed,
            ignore_official_folds=ignore_official_folds, reference_layout=reference_layout, force=force,
            progress=progress,
        )
    manifest = result.manifest
    click.echo(format_fold_tables(manifest))
    folds_kind = "official" if manifest["official_folds"] else "stratified"
    state = "is up to date" if result.up_to_date else f"written in {result.seconds:.1f} s"
    seed_text = "no seed" if manifest["seed"] is None else f"seed {manifest['seed']}"
    click.echo(f"{dataset}: {manifest['k']} {folds_kind} folds, {seed_text}; {result.manifest_path} {state}")


class _EpochBars:
    """A progress callback drawing one bar per trial: epochs, loss, accuracies and ETA.

    Without a terminal, one plain line per epoch instead.
    """

    def __init__(self, dataset):
        self._dataset = dataset
        self._bar = None
        self._trial = None

    def __call__(self, trial, epoch, epochs, logs):
        if not sys.stderr.isatty():
            click.echo(epoch_line(self._dataset, trial, epoch, epochs, logs), err=True)
            return
        shown = epoch_values(logs)
        if trial != self._trial:
            self.close()
            self._trial = trial
            self._bar = click.progressbar(
                length=epochs, label=f"{self._dataset} trial {trial}: epochs", show_pos=True, show_eta=True,
                file=sys.stderr, item_show_func=lambda text: text)
            self._bar.__enter__()
            self._bar.update(epoch - 1)
        self._bar.update(epoch - self._bar.pos, current_item=shown)

    def close(self):
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


@cli.command("cv-train")
@click.argument("dataset")
@config_option
@set_option
@out_option
@click.option("--k", type=click.IntRange(min=3), default=None, help="Which folds [default: folds.k in datasets.yaml].")
@click.option("--trial", type=click.IntRange(min=1), default=None,
              help="Run only this trial (1-based; the folds table says which fold it tests), e.g. as one job of many.")
@click.option("--fold", "old_trial", type=click.IntRange(min=1), default=None, hidden=True,
              help="Deprecated name of --trial.")
@click.option("--evaluate-only", is_flag=True, help="Report from the stored best models without training.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Most epochs per trial [default: training.epochs].")
@click.option("--seed", type=int, default=None, help="Training seed [default: training.seed].")
@click.option("--seeds", metavar="N|S,S,...", callback=lambda ctx, param, value: _seeds(value),
              help="Repeat the cross-validation per seed, each in its own seed_<s> folder, and report their mean, "
                   "spread and ensemble: N seeds from --seed on, or a list.")
@click.option("--pictures", is_flag=True, help="Also draw the first MCLNN layer's weights and its outputs.")
@click.option("--model", type=click.Choice(MODEL_KINDS.names), default="mclnn", show_default=True,
              help="MCLNN, or the DCASE 2018 baseline CNN or MLP on the same folds.")
@click.option("--hparams", metavar="NAME=VALUE,...",
              help="Baseline hyperparameters, e.g. classifier=logistic,lr=0.001 (recorded in the report).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials run at once, each in its own process with cores/jobs TensorFlow threads.")
@click.option("--evaluate-on", type=click.Choice(EVALUATED_FOLDS), default="test", show_default=True,
              help="Score each trial's test fold, or its validation fold (no test file is read; the weights "
                   "folder's name ends in _validation): choose recipes on validation, test once.")
@click.option("--weights", "weights", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Weights folder [default: <out>/<TAG>_folds_<k>_weights, or ..._<model>_weights].")
@scheduler_option
def cv_train_command(dataset, config_path, overrides, out_dir, k, trial, old_trial, evaluate_only, epochs, seed,
                     seeds, pictures, model, hparams, jobs, evaluate_on, weights, scheduler):
    """Train and evaluate a model of DATASET on every cross-validation trial, and report.

    A rerun skips finished trials and resumes an interrupted one from its last
    checkpoint. Outputs go to <out>/<TAG>_folds_<k>_weights/ (MCLNN) or
    <out>/<TAG>_folds_<k>_<model>_weights/: per trial the best model, its history and
    report; report.json, report.md and PNG pictures over all finished trials.
    """
    if old_trial is not None:
        click.echo("--fold is deprecated: it selects a trial, not the fold tested; use --trial", err=True)
        trial = trial or old_trial
    flags = ([(f"--epochs {epochs}", f"training.epochs={epochs}")] * (epochs is not None)
             + [(f"--seed {seed}", f"training.seed={seed}")] * (seed is not None))
    config = load_config(dataset, config_path=config_path, overrides=[*overrides, *flags])
    out_dir = out_dir or DEFAULT_OUT_ROOT / dataset
    if isinstance(seeds, int):
        seeds = list(range(config.training.seed, config.training.seed + seeds))
    # The trial, the folds and the scheduler are checked before TensorFlow takes seconds to load.
    check_trial(read_folds_manifest(out_dir, config.name, k or config.folds.k), trial)
    with connect(scheduler) as client:
        import_tensorflow()
        from mclnn.train import cv_train

        with _EpochBars(dataset) as progress:
            report = cv_train(config, out_dir=out_dir, k=k, trial=trial, seeds=seeds,
                              evaluate_only=evaluate_only, pictures=pictures, progress=progress, model=model,
                              hparams=hparams, jobs=jobs, client=client, evaluate_on=evaluate_on, weights=weights)
    if seeds is not None:
        for row in report.per_seed:
            click.echo(f"{dataset} seed {row['seed']} pooled over trials {', '.join(map(str, report.trials))}: "
                       f"clip accuracy {row['mean_probability_accuracy']:.4f} mean-probability vote")
        low, high = report.bootstrap_95
        spread = "" if report.std is None else f" ± {report.std:.4f}"
        seeds_text = f"{len(report.seeds)} seed{'s' if len(report.seeds) > 1 else ''}"
        click.echo(f"{dataset} over {seeds_text}: {report.mean:.4f}{spread} (95% bootstrap "
                   f"{low:.4f}-{high:.4f}); ensemble {report.ensemble['mean_probability_accuracy']:.4f}")
        return
    for trial_report in report.trials:
        scores = trial_report.scores
        scored = (f"tests fold {trial_report.test_fold}" if trial_report.evaluated_on == "test" else
                  f"scored on its validation fold {trial_report.validation_fold}")
        click.echo(f"{dataset} trial {trial_report.trial} ({scored}): "
                   f"clip accuracy {scores['mean_probability_accuracy']:.4f} mean-probability vote, "
                   f"{scores['majority_accuracy']:.4f} majority vote, MAP@3 {scores['map_at_3']:.4f}, "
                   f"{trial_report.epochs_run} epochs (best {trial_report.best_epoch})")
    pooled = report.pooled
    click.echo(f"{dataset} pooled over trials {', '.join(map(str, report.trials_finished))}: "
               f"clip accuracy {pooled['mean_probability_accuracy']:.4f} mean-probability vote, "
               f"{pooled['majority_accuracy']:.4f} majority vote, F1 weighted {pooled['f1_weighted']:.4f}, "
               f"MAP@3 {pooled['map_at_3']:.4f}")


@cli.command()
@click.argument("weights", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The classifier's .keras file; its .json (class names, feature settings) goes beside it.")
@click.option("--trial", type=click.IntRange(min=1), default=None, help="Export this trial alone [default: all].")
def export(weights, output, trial):
    """Write WEIGHTS (a weights folder, its trials and seeds averaged) as one plain-Keras classifier.

    keras.models.load_model reads it without mclnn: input a clip's features [frames,
    features], output class probabilities (the standardization, the masked layers and the
    mean-probability vote are inside).
    """
    import_tensorflow()
    from mclnn.train.predict import export_classifier

    classifier = export_classifier(weights, output, trial=trial)
    click.echo(f"{output} written: {classifier.count_params()} weights; classes and features in "
               f"{output.with_suffix('.json')}")


@cli.command()
@click.argument("first", metavar="A", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("second", metavar="B", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the comparison as JSON here.")
@click.option("--recording", metavar="REGEX",
              help="The part of a clip's file name naming the recording it was cut from (its first group, if any), "
                   r"e.g. '/(\d+-\d+)-' for ESC: the bootstrap draws recordings with all their clips [default: clips].")
def compare(first, second, json_path, recording):
    """Compare two cv-train runs on the same clips: per trial and pooled, B - A.

    A and B are weights folders (or folders of seed_<s> runs) of the same folds, both
    scored on test or both on validation (--evaluate-on). Prints Markdown: each run's clip
    accuracy, the difference with its paired bootstrap 95% interval, McNemar's exact test,
    and the classes that moved.
    """
    from mclnn.train.evaluate.compare import compare_runs, comparison_markdown, read_run

    comparison = compare_runs(read_run(first), read_run(second), recording=recording)
    click.echo(comparison_markdown(comparison), nl=False)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json_path, json.dumps(comparison, indent=1) + "\n")


def _seeds(value):
    """``--seeds``: a count (int) or a list of seeds; None when not given."""
    if value is None:
        return None
    try:
        numbers = [int(item) for item in value.split(",") if item.strip()]
    except ValueError:
        raise click.BadParameter(f"expected a count or comma-separated seeds, got {value!r}") from None
    if "," not in value:
        if numbers[0] < 1:
            raise click.BadParameter(f"a count of seeds must be at least 1, got {value!r}")
        return numbers[0]
    return numbers


@cli.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, path_type=Path))
@click.argument("inputs", metavar="CLIPS", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("predictions.csv"),
              show_default=True, help="Where to write the fname,label rows.")
@click.option("--audio-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder of the clips a CSV names [default: the CSV's folder].")
@click.option("--probabilities", is_flag=True, help="Also write every class's probability, one column each.")
@click.option("--class-map", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the model's class index,name CSV here.")
@click.option("--skip-bad", is_flag=True,
              help="Exit with status 0 when some clips cannot be predicted, and leave out CSV rows naming files "
                   "outside the audio folder instead of refusing the CSV (all are still named and left out).")
@scheduler_option
def predict(model_path, inputs, output, audio_dir, probabilities, class_map, skip_bad, scheduler):
    """Predict the classes of new clips with trained models.

    MODEL is a model.keras written by cv-train, its trial folder, or a weights folder
    (every trial's model, averaged). CLIPS is a folder of audio files or a CSV whose
    fname column names them. Features are extracted with the settings the model was
    trained on. Each row holds the 3 most probable classes, best first (the Kaggle
    DCASE 2018 Task 2 format). Clips that cannot be read (or are silent or too short)
    are named and left out; the exit status is then 1, unless --skip-bad is given.
    """
    with connect(scheduler) as client:
        import_tensorflow()
        from mclnn.train.predict import (list_clips, load_trained_models, predict_clips, predict_on_workers,
                                         write_class_map, write_predictions)

        models = load_trained_models(model_path)  # here too: a bad MODEL is named before any task runs
        refused = [] if skip_bad else None
        clips = list_clips(inputs, audio_dir=audio_dir, refused=refused)
        with _ProgressBar("predict") as progress:
            if client is None:
                predictions = predict_clips(models, clips, progress=progress)
            else:
                predictions = predict_on_workers(model_path, clips, client=client, progress=progress)
    failures = (refused or []) + predictions.failures
    for name, reason in failures:
        click.echo(f"skipped {name}: {reason}", err=True)
    if predictions.names:
        write_predictions(predictions, output, probabilities=probabilities)
        click.echo(f"{len(predictions.names)} clips predicted with {len(models)} model(s); {output} written")
    if class_map is not None:
        write_class_map(predictions.class_names, class_map)
        click.echo(f"{class_map} written")
    if failures and not (skip_bad and predictions.names):
        raise click.ClickException(f"{len(failures)} of {len(failures) + len(predictions.names)} clips could not be "
                                   "predicted (named above)"
                                   + ("; the others are in " + str(output) if predictions.names else ""))


def main():
    """Console-script entry point."""
    cli(prog_name="mclnn")


if __name__ == "__main__":
    main()
