"""The Mobile AI 2022 Learned Smartphone ISP challenge's fixed interface."""

FULL_HD_INPUT = (1, 544, 960, 4)  # packed Bayer RAW at half resolution
FULL_HD_OUTPUT = (1, 1088, 1920, 3)  # Full-HD RGB
