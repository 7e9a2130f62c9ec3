"""Site layer: dashboards and reports under $ZHENGAI_HOME/site."""
