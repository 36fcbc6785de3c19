# bench_chart.gp — requests/s per scenario and target (log scale), the chart
# of BENCHMARKS.md. scripts/bench_report.py writes the data (a header line of
# quoted target names, then one line per scenario) and runs
#   gnuplot -e "data='requests.dat'; png='requests.png'" scripts/bench_chart.gp
set terminal pngcairo size 900,500 noenhanced font ',11'
set output png
set title 'requests/s per scenario (log scale; higher is better)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set yrange [1:*]
set xrange [-0.6:3.6]
set grid ytics
set key top right autotitle columnheader
plot data using 2:xtic(1), '' using 3, '' using 4
