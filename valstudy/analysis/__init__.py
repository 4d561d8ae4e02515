"""The computations behind the study notebooks: dataset anatomy, result tables, retrieval examples, attention, costs.

Notebooks call these and ``valstudy.plotting``; they hold no computation themselves. Each notebook ends with
:func:`record`, which writes the numbers it computed to ``<figures_dir>/<notebook>_<dataset>.json`` for the tests.
Numbers from the paper are constants in ``common`` (docs/published-numbers.md), labelled "paper, real data, cited".
One module per notebook family: ``datasets``, ``runs`` (training, results, qualitative), ``stats`` (seeds, paired
intervals, the sentences of the findings; results and ablations), ``attention`` (maps and changed regions),
``attention_measures`` (the calibrated measures on plain arrays), ``attention_gates`` (gates of many queries),
``interventions`` (test-time replacements and R@10 under them), ``attention_run`` (every measure of one run: ``python
-m valstudy attention``), ``attention_seeds`` (over seeds, intervals, sentences), ``costs``, ``beyond`` (valid@K and
the simulated user); ``params`` resolves a notebook's profile and folders.
"""
from .common import (PAPER_COUNTS, PAPER_LABEL, PAPER_RESULTS, VARIANT_LABELS, ABLATION_GROUPS, STOPWORDS, record,
    markdown)
from .datasets import (dataset_counts, describe, anatomy_examples, texts_by_split, caption_lengths, top_words,
    change_locality)
from .runs import (training_curves, recall_columns, summary_table, protocol_bars, paper_table,
    rank_queries, pick_examples, with_images)
from .attention import (attention_maps, unique_queries, pick_attention_examples, attention_rows, upsample,
    ChangedRegions, region_mass, image_dependence, region_summary, attention_along_training)
from .attention_measures import measure_maps, positive_control, blend, region_ratios, map_distance, STRENGTHS
from .attention_run import (measure_run, measures_along_training, attention_records, attention_examples,
    format_summary)
from .attention_seeds import (seed_intervals, attention_sentences, level_sentences, control_table, blend_equivalent,
    interval_frame, interval_table, readme_line)
from .interventions import RecallProbe, mean_spatial_gate, mean_channel_gate, zero_self_attention, recall_under
from .costs import flops_summary, flops_bars_data, time_retrieval, retrieval_timings, loglog_fit
from .stats import (t_quantile, per_seed, seed_summary, ablation_runs, ablation_table, paired_differences,
    mean_std_text, mean_interval, region_excess, region_sentence)
from .measures import SIMULATION
from .verdicts import MARGIN, paired_verdicts, verdict_sentence, verdict_table
from .convergence import (PLATEAU_POINTS, budget_rows, by_variant, convergence_table, doubling_rows, doubling_sentences,
                          mean_curves, plateau_note, still_rising, validation_curve)
from .beyond import (metric_table, vagueness_table, recall_valid_table, valid_gap_sentence,
    simulation_per_seed, simulation_table, method_records)

__all__ = [
    "PAPER_COUNTS", "PAPER_LABEL", "PAPER_RESULTS", "VARIANT_LABELS", "ABLATION_GROUPS", "STOPWORDS", "record", "markdown",
    "dataset_counts", "describe", "anatomy_examples", "texts_by_split", "caption_lengths", "top_words", "change_locality",
    "training_curves", "recall_columns", "summary_table", "protocol_bars", "paper_table", "ablation_table",
    "rank_queries", "pick_examples", "with_images", "attention_maps", "unique_queries",
    "pick_attention_examples", "attention_rows", "upsample", "ChangedRegions", "region_mass", "image_dependence",
    "region_summary", "attention_along_training", "measure_maps", "positive_control", "blend", "region_ratios",
    "map_distance", "STRENGTHS", "measure_run", "measures_along_training", "attention_records", "attention_examples",
    "format_summary", "seed_intervals", "attention_sentences", "level_sentences", "control_table",
    "blend_equivalent", "interval_frame", "interval_table", "readme_line", "RecallProbe", "mean_spatial_gate",
    "mean_channel_gate", "zero_self_attention", "recall_under", "flops_summary",
    "flops_bars_data", "time_retrieval", "retrieval_timings", "loglog_fit", "t_quantile", "per_seed", "seed_summary", "ablation_runs",
    "paired_differences", "mean_std_text", "mean_interval", "region_excess",
    "region_sentence", "SIMULATION", "MARGIN", "paired_verdicts", "verdict_sentence", "verdict_table", "PLATEAU_POINTS", "convergence_table", "doubling_rows", "budget_rows", "doubling_sentences", "by_variant", "plateau_note", "still_rising", "mean_curves", "validation_curve",
    "metric_table", "vagueness_table", "recall_valid_table", "valid_gap_sentence",
    "simulation_per_seed", "simulation_table", "method_records",
]
