"""The documents the secretariat and the colleges exchange around the December submission (细则 三(二)):

- `analysis`: the status-data analysis report (人才培养工作状态数据分析报告) of a college and year;
- `dossier`: the experts' pre-review dossier (预审诊断) of a college before its review, ending with ranked
  suggested 现场诊断重点 (`focus`, rule in reference/dossier_focus_rules.csv);
- `blocks`: the one document model both are built as (headings, paragraphs, tables, element sections),
  written as HTML (`render_html`, Jinja2 with autoescape: dashboards/templates/document.html inside the
  site's page shell) and as an editable Word document (`word.build_docx`, python-docx);
- `sources`: the warehouse queries (sql/documents/*.sql, bound parameters) the documents read;
- `commands`: `zhengai report analysis` and `zhengai dossier`.

A college's documents carry its own figures only: peers appear as anonymous aggregates (count, rank,
quartiles) and only where enough same-type colleges have a value (peer_min_count of warning_rules.csv).
"""
