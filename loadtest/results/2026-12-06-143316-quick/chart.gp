set terminal pngcairo size 1400,900 noenhanced font ',10'
set output 'chart.png'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top left
set grid ytics
set yrange [0:*]
set datafile missing 'NaN'
set multiplot layout 2,2 title 'Sluice and peers (medians)'
set title 'Throughput (GiB/s)'
plot for [i=2:6] 'chart-gib.dat' using i:xtic(1) title columnheader(i)
set title 'CPU s/GiB (lower is better)'
plot for [i=2:6] 'chart-cpugib.dat' using i:xtic(1) title columnheader(i)
set title 'Requests/s'
plot for [i=2:6] 'chart-reqs.dat' using i:xtic(1) title columnheader(i)
set title 'CPU us/request (lower is better)'
plot for [i=2:6] 'chart-cpureq.dat' using i:xtic(1) title columnheader(i)
unset multiplot
