# Grafana with the ClickHouse data source plugin baked in at build time (not downloaded at every start).
# grafana-clickhouse-datasource 4.3.2 declares grafanaDependency ">=9.5.0" (its src/plugin.json): Grafana 11.3 fits.
FROM grafana/grafana:11.3.0
RUN grafana cli plugins install grafana-clickhouse-datasource 4.3.2
