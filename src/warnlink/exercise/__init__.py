"""The end-to-end exercise: a hub and one node process per party over real TLS, fed their
own sensors' measurements in scenario time, sharing and fusing tracks, then scored."""
