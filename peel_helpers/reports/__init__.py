"""The reports layer: figures, tables and notebook helpers, the ledger, and the HTML export."""
