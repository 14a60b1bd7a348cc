"""The workstation side: deploy edgenet and models to boards over ssh, and work there."""
