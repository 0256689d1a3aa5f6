"""Layer tables and diagrams of a genome's networks, without building them.

`layer_table` lists the layers Keras would build for a genome's generator or
discriminator, with output shapes and parameter counts taken from
`kgan_nas.core.shapes` (the plans `kgan_nas.evaluation.decode` builds from, so the numbers are
the ones Keras reports). `dot_source` writes the same rows as Graphviz DOT
text, and `render_svg` draws it when the Graphviz `dot` program is installed.
Pure Python: nothing here imports TensorFlow or Keras.
"""

import shutil
import subprocess

from kgan_nas.core import genome as genome_lib
from kgan_nas.core.genome import Genome
from kgan_nas.report.markup import escape
from kgan_nas.report.markup import num_cell
from kgan_nas.report.markup import section_start
from kgan_nas.report.markup import table

NETWORKS = ("generator", "discriminator")


def layer_table(genome, space, network):
    """The layers of one network of `genome`, first to last.

    Args:
        genome: A `Genome` valid in `space`.
        space: The `SearchSpace` it was searched in (image shape, latent size).
        network: `"generator"` or `"discriminator"`.

    Returns:
        A list of dicts with keys `layer` (a short name), `details`
        (units or filters, kernel, stride, normalisation, activation),
        `output_shape` (a tuple without the batch axis) and `params`. The
        first row is the input; the `params` add up to
        `space.generator_params(genome)` (or `discriminator_params`).

    Raises:
        ValueError: for an unknown `network`, or a genome whose layers do
            not fit the space's image shape.
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}.")
    if network == "generator":
        rows = [_row("latent input", "", (space.latent_dim,), 0)]
        plan = space.generator_plan(genome)
    else:
        rows = [_row("image input", "", tuple(space.image_shape), 0)]
        plan = space.discriminator_plan(genome)
    flattened = network == "generator"
    for step in plan:
        if not flattened and len(step.input_shape) == 1:
            rows.append(_row("flatten", "", step.input_shape, 0))
            flattened = True
        if step.role == "project":
            units = step.output_shape[0] * step.output_shape[1] * step.output_shape[2]
            rows.append(
                _row("dense + reshape", f"{units} units, relu", step.output_shape, step.params)
            )
        elif step.role == "output" and network == "generator":
            rows.append(
                _row(
                    "conv2d (image)",
                    f"{_count(step.output_shape[-1], 'filter')}, 3x3, tanh",
                    step.output_shape,
                    step.params,
                )
            )
        elif step.role == "output":
            rows.append(_row("dense (logit)", "1 unit", step.output_shape, step.params))
        elif step.role == "condition":
            rows.append(_condition_row(step, network))
        else:
            rows.append(
                _row(step.gene.kind, gene_details(step.gene), step.output_shape, step.params)
            )
    return rows


def _condition_row(step, network):
    """The label embedding of a conditional network, e.g. `label embedding (projection)`."""
    genes = step.gene
    how = genes.generator if network == "generator" else genes.discriminator
    return _row(
        f"label embedding ({how})", "one learned vector per class", step.output_shape, step.params
    )


def gene_details(gene):
    """A short description of a `LayerGene`'s settings, e.g. `"64 filters, 5x5, stride 2"`."""
    if gene.kind == genome_lib.DROPOUT:
        return f"rate {gene.rate:g}"
    parts = []
    if gene.kind == genome_lib.UPSAMPLE_CONV2D:
        parts.append("2x nearest upsampling")
    if gene.kind == genome_lib.DENSE:
        parts.append(_count(gene.size, "unit"))
    else:
        parts += [_count(gene.size, "filter"), f"{gene.kernel}x{gene.kernel}"]
        if gene.stride != 1:
            parts.append(f"stride {gene.stride}")
    if gene.norm != "none":
        parts.append(f"{gene.norm} norm")
    if gene.activation != "linear":
        parts.append(gene.activation)
    return ", ".join(parts)


def format_shape(shape):
    """`(8, 8, 32)` -> `"8x8x32"`."""
    return "x".join(str(size) for size in shape)


def dot_source(rows, title):
    """Graphviz DOT text drawing `rows` (from `layer_table`) top to bottom.

    Args:
        rows: Rows from `layer_table`.
        title: The graph's label, e.g. `"generator"`.

    Returns:
        The DOT text.
    """
    lines = [
        "digraph network {",
        f'  graph [rankdir=TB, label="{_dot_escape(title)}", labelloc=t, fontsize=14,'
        ' fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontsize=10,'
        ' fontname="Helvetica"];',
        "  edge [arrowsize=0.6];",
    ]
    for index, row in enumerate(rows):
        label = _dot_escape(row["layer"])
        if row["details"]:
            label += "\\n" + _dot_escape(row["details"])
        label += f"\\n{format_shape(row['output_shape'])}"
        if row["params"]:
            label += f"  ({row['params']:,} params)"
        lines.append(f'  n{index} [label="{label}"];')
    lines += [f"  n{index} -> n{index + 1};" for index in range(len(rows) - 1)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(dot_text, timeout=30):
    """Draws DOT text as SVG with Graphviz's `dot` program, if it is installed.

    Args:
        dot_text: DOT source, e.g. from `dot_source`.
        timeout: Seconds to wait for `dot`.

    Returns:
        The `<svg>` element as text (without the XML prologue, ready to
        embed in HTML), or None when `dot` is missing or fails.
    """
    program = shutil.which("dot")
    if program is None:
        return None
    try:
        completed = subprocess.run(
            [program, "-Tsvg"],
            input=dot_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    start = completed.stdout.find("<svg")
    if completed.returncode != 0 or start < 0:
        return None
    return completed.stdout[start:]


def _row(layer, details, output_shape, params):
    return {
        "layer": layer,
        "details": details,
        "output_shape": tuple(output_shape),
        "params": int(params),
    }


def _count(number, noun):
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _dot_escape(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def architecture_section(result):
    """The page's section on the best candidate: its training settings and layer tables.

    Each network is a table of `layer_table`'s rows, and a diagram too when
    Graphviz's `dot` is installed (`render_svg`).

    Args:
        result: A `kgan_nas.SearchResult`.

    Returns:
        The section's HTML; empty when no candidate succeeded.
    """
    best = result.best_record
    if best is None:
        return ""
    parts = [section_start("architecture")]
    genome = Genome.from_dict(best["genome"])
    space = result.space
    training = genome.training
    parts.append(
        f"<p>Candidate <code>{escape(best['key'])}</code>: {escape(training.loss)} loss, "
        f"{escape(training.optimizer)} (generator learning rate "
        f"{training.g_learning_rate:g}, discriminator {training.d_learning_rate:g}, "
        f"beta_1 {training.beta_1:g}, beta_2 {training.beta_2:g}).</p>"
    )
    networks = []
    drawn = False
    for network in NETWORKS:
        rows = layer_table(genome, space, network)
        total = sum(row["params"] for row in rows)
        layers = table(
            ["layer", "settings", "output shape", "params"],
            [
                [
                    escape(row["layer"]),
                    escape(row["details"]),
                    num_cell(format_shape(row["output_shape"])),
                    num_cell(f"{row['params']:,}"),
                ]
                for row in rows
            ]
            + [["<b>total</b>", "", "", num_cell(f"<b>{total:,}</b>")]],
            table_id=f"layers-{network}",
        )
        svg = render_svg(dot_source(rows, network))
        diagram = f'<div class="diagram">{svg}</div>' if svg else ""
        drawn = drawn or bool(svg)
        networks.append(
            f"<h3>{network.capitalize()}</h3>"
            f'<div class="network"><div>{layers}</div>{diagram}</div>'
        )
    parts.extend(networks)
    if not drawn:
        parts.append(
            '<p class="muted">Install Graphviz (the <code>dot</code> program) to '
            "see these networks as diagrams as well.</p>"
        )
    return "\n".join(parts)
