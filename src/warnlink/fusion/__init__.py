"""Fusion of the parties' shared tracks into one picture per party (issue 5).

`report` is what a party shares (SharedTrack, its wire form); `fuser` turns its own and
its partners' reports into system tracks with fused launch and impact estimates.
"""
