"""The page's protocol card: how the run's numbers were made (`kgan_nas.store.protocol`)."""

from kgan_nas.report.markup import key_value_table
from kgan_nas.report.markup import section_start
from kgan_nas.store import protocol


def protocol_section(result):
    """HTML of the run's protocol card, a two-column table.

    Args:
        result: A `kgan_nas.SearchResult`.

    Returns:
        The section's HTML; values a run did not record read "not recorded".
    """
    rows = protocol.card_rows(result.protocol)
    return "\n".join(
        [
            section_start("protocol"),
            "<p>What the scores on this page depend on. The same card is "
            f"<code>{protocol.PROTOCOL_JSON}</code> in the run directory.</p>",
            key_value_table(rows, table_id="protocol-card"),
        ]
    )
