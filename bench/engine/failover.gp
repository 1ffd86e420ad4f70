# SPDX-License-Identifier: GPL-2.0
# gnuplot -e "data='failover.tsv'; data64='failover64.tsv'; out='failover.png'" failover.gp
# Columns of engbench failover -o: 1 case, 2 guest size, 3 heartbeat,
# 4 timeout, 5 total ms, 6 detect ms, 7 restore ms.
set terminal pngcairo size 900,500 font ",10" noenhanced
set output out
set datafile separator "\t"
set xlabel "trial"
set ylabel "kill to first datagram from the backup, ms"
set key top left
set grid
set yrange [0:*]
set title "Failover: primary death to the restored guest's first packet (heartbeat 100 ms)"
sel(c, to, col) = (strcol(1) eq c && $4 == to) ? column(col) : 1/0
plot 500 w l lw 2 dt 2 lc rgb "red" title "target 500 ms", \
  data u 0:(sel("eof", 300, 5)) w lp pt 7 title "EOF (kill -9), 8 MiB, timeout 300", \
  data u 0:(sel("silent", 300, 5)) w lp pt 5 title "silent (SIGSTOP), 8 MiB, timeout 300", \
  data64 u 0:(sel("eof", 1000, 5)) w lp pt 9 title "EOF, 64 MiB, timeout 1000", \
  data64 u 0:(sel("silent", 1000, 5)) w lp pt 11 title "silent, 64 MiB, timeout 1000"
