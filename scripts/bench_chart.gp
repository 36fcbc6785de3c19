# bench_chart.gp — requests/s per scenario and target (log scale), the chart
# of BENCHMARKS.md. scripts/bench_report.py writes the data (a header line of
# quoted target names, then one line per scenario, "-" where a target has no
# figure) and runs
#   gnuplot -e "data='requests.dat'; png='requests.png'; cols='2 3 4'" scripts/bench_chart.gp
# where cols are the data columns (targets) that have at least one figure.
set terminal pngcairo size 900,500 noenhanced font ',11'
set output png
set datafile missing '-'
set title 'requests/s per scenario (log scale; higher is better)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set xrange [-0.6:3.6]
set grid ytics
set key top right
plot for [c in cols] data using int(c):xtic(1) title columnheader(int(c))
