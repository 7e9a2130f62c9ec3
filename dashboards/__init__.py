"""Pure figure and page builders: data in, plotly figure or HTML out, no I/O."""
