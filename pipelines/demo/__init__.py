"""The demo province generator (`zhengai synth`) and its recovery check (`zhengai demo-check`).

Entry points: `province.generate_province`, `layouts.write_layout_fixtures`, `recovery`. See
province.py for the shape of what it writes and tables.py for the per-table builders.
"""
