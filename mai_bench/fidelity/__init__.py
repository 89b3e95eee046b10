"""Image fidelity the way the Mobile AI 2022 Learned ISP challenge scored it: PSNR and SSIM, the challenge's RAW
data layout, synthetic demo data and whole-model evaluation on the host."""
