# SPDX-License-Identifier: GPL-2.0
# gnuplot -e "data='pause.tsv'; out='pause.png'; ttl='...'" pause.gp
# Columns of engbench pause -o: 2 MiB, 3 pages, 4 mode, 5 pause wall p50,
# 7 floor wall p50, 21 pause CPU p50, 23 floor CPU p50.
set terminal pngcairo size 1400,620 font ",10" noenhanced
set output out
set datafile separator "\t"
set logscale xy
set xlabel "dirty pages per epoch"
set key top left font ",9"
set grid
set multiplot layout 1,2 title "Engine pause vs floor (p50), ".ttl
rows(m, mib) = sprintf("< awk -F'\t' '$4 == \"%s\" && $2 == %d && $21 > 0' %s", m, mib, data)
set ylabel "CPU time of the epoch thread, us"
set title "CPU time (what the engine does)"
plot \
  for [s in "64 256 1024"] rows("plain", s+0) u 3:21 w lp lw 2 pt 7 lc (s eq "64" ? 1 : s eq "256" ? 2 : 3) title "pause, ".s." MiB", \
  for [s in "64 256 1024"] rows("plain", s+0) u 3:23 w l dt 2 lw 1 lc (s eq "64" ? 1 : s eq "256" ? 2 : 3) title "floor, ".s." MiB", \
  for [s in "64 256 1024"] rows("plain", s+0) u 3:($23*1.5+100) w l dt 3 lw 1 lc (s eq "64" ? 1 : s eq "256" ? 2 : 3) title "target 1.5 x floor + 100 us, ".s." MiB", \
  for [s in "64 256 1024"] rows("precopy", s+0) u 3:21 w p pt 4 ps 1.3 lc (s eq "64" ? 1 : s eq "256" ? 2 : 3) title "with the engine's pre-copy, ".s." MiB"
set ylabel "wall time, us"
set title "wall time (on a machine with every CPU taken)"
plot \
  for [s in "64 256 1024"] rows("plain", s+0) u 3:5 w lp lw 2 pt 7 lc (s eq "64" ? 1 : s eq "256" ? 2 : 3) title "pause, ".s." MiB", \
  for [s in "64 256 1024"] rows("plain", s+0) u 3:7 w l dt 2 lw 1 lc (s eq "64" ? 1 : s eq "256" ? 2 : 3) title "floor, ".s." MiB", \
  for [s in "64 256 1024"] rows("precopy", s+0) u 3:5 w p pt 4 ps 1.3 lc (s eq "64" ? 1 : s eq "256" ? 2 : 3) title "with the engine's pre-copy, ".s." MiB"
unset multiplot
